import { registry } from "@web/core/registry";

// An administrator sets up a sync in two steps, starts it, reads its members and
// exports its failed records.
registry.category("web_tour.tours").add("mailchimp_new_sync_tour", {
    url: "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
    steps: () => [
        {
            content: "New Sync",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Step 1: the Mailchimp account",
            trigger: ".o_field_widget[name='account_id'] input",
            run: "edit Tour account",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Tour account')",
            run: "click",
        },
        {
            content: "Step 1: the audience",
            trigger: ".o_field_widget[name='audience_id'] input",
            run: "edit Newsletter",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Newsletter')",
            run: "click",
        },
        {
            content: "Step 1: the name follows the audience",
            trigger: ".o_field_widget[name='name'] input:value('Contacts ↔ Newsletter')",
        },
        {
            content: "Step 1: both directions",
            trigger: ".o_field_widget[name='direction'] input[data-value='both']",
            run: "click",
        },
        {
            content: "Go to step 2",
            trigger: "button[name='action_setup_next']:contains('Field Mapping')",
            run: "click",
        },
        {
            content: "Step 2: the usual fields are mapped",
            trigger: ".o_field_widget[name='field_map_ids'] .o_data_row:contains('FNAME')",
        },
        {
            trigger: ".o_field_widget[name='field_map_ids'] .o_data_row:contains('ADDRESS')",
        },
        {
            content: "Go to the review",
            trigger: "button[name='action_setup_next']:contains('Review')",
            run: "click",
        },
        {
            content: "Start the initial sync",
            trigger: "button[name='action_start_sync']",
            run: "click",
        },
        {
            content: "The sync is active",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Active')",
        },
        {
            content: "View its members",
            trigger: "button[name='action_view_members']",
            run: "click",
        },
        {
            content: "The contact is a subscribed member",
            trigger: ".o_data_row:contains('tour.contact@corp.com'):contains('Subscribed')",
        },
        {
            content: "Back to the sync",
            trigger: ".o_breadcrumb .breadcrumb-item:contains('Newsletter') a",
            run: "click",
        },
        {
            content: "Export the failed records",
            trigger: "button[name='action_export_failures']",
            run: "click",
        },
        {
            content: "The sync form is still there",
            trigger: ".o_form_view .o_field_widget[name='name']",
        },
    ],
});
