import { registry } from "@web/core/registry";

// A run's progress on the sync's form follows the run without a reload: the
// test commits the run's next figures in another cursor and sends the engine's
// bus notification; the form reads them again by itself.
registry.category("web_tour.tours").add("mailchimp_sync_progress_tour", {
    url: "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
    steps: () => [
        {
            content: "The hub shows the running sync's progress",
            trigger: ".o_data_row:contains('Progress sync'):contains('4,000 of 20,000')",
        },
        {
            trigger: ".o_data_row:contains('Progress sync') .o_progressbar",
        },
        {
            content: "Open the sync",
            trigger: ".o_data_row:contains('Progress sync') td[name='name']",
            run: "click",
        },
        {
            content: "The form shows the run's stage, figures and time left",
            trigger: ".o_field_widget[name='last_run_progress']:contains('4,000 of 20,000')",
        },
        {
            trigger: ".o_field_widget[name='last_run_stage']:contains('Reading Mailchimp')",
        },
        {
            trigger: ".o_field_widget[name='last_run_time_left']:contains('min left')",
            run() {
                // a full page load would forget this mark
                document.body.dataset.mailchimpProgressTour = "before";
                console.log("mailchimp_screenshot:sync_progress_running");
            },
        },
        {
            content: "Sync Now: the scheduler (played by the test) goes on",
            trigger: "button[name='action_sync_now']",
            run: "click",
        },
        {
            content: "The figures follow the run, without a reload",
            trigger:
                "body[data-mailchimp-progress-tour='before'] .o_field_widget[name='last_run_progress']:contains('20,000 of 20,000')",
            timeout: 20000,
        },
        {
            trigger:
                "body[data-mailchimp-progress-tour='before'] .o_field_widget[name='last_run_percent'] .o_progressbar_value:contains('100')",
        },
        {
            content: "The run is done",
            trigger: ".o_field_widget[name='last_run_state'] .badge:contains('Done')",
            run() {
                console.log("mailchimp_screenshot:sync_progress_done");
            },
        },
        {
            content: "Still on the form once the picture is taken",
            trigger: "body[data-mailchimp-progress-tour='before'] .o_form_view",
        },
    ],
});
