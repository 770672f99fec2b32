import { registry } from "@web/core/registry";

// An administrator sets up a sync in two steps, reads the review's counts of a
// seeded audience, starts it from the review, reads its members and exports its
// failed records.
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
            content: "Step 1: create the contacts Mailchimp has and Odoo lacks",
            trigger: ".o_field_widget[name='create_missing'] input",
            run: "click",
        },
        {
            content: "Step 1: their owner",
            trigger: ".o_field_widget[name='default_owner_id'] input",
            run: "edit Administrator",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Administrator')",
            run: "click",
        },
        {
            content: "Step 1: unsubscribed and cleaned members are not created by default",
            trigger: ".o_field_widget[name='create_cleaned'] input:not(:checked)",
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
            content: "The review: the audience's 6 members read",
            trigger: ".modal .o_field_widget[name='members_count']:contains('6')",
        },
        {
            content: "The review: 3 subscribed members become contacts",
            trigger: ".modal .o_field_widget[name='created_count']:contains('3')",
        },
        {
            content: "The review: 2 unsubscribed and 1 cleaned are not created",
            trigger: ".modal .o_field_widget[name='skip_unsubscribed_count']:contains('2')",
        },
        {
            trigger: ".modal .o_field_widget[name='skip_cleaned_count']:contains('1')",
        },
        {
            content: "The review: 2 contacts of the segment go to Mailchimp",
            trigger: ".modal .o_field_widget[name='added_count']:contains('2')",
        },
        {
            content: "The review: the company and the internal users are left out",
            trigger: ".modal .alert-info:contains('left out of the segment')",
        },
        {
            content: "The review's examples: the new contacts",
            trigger: ".modal a[role='tab']:contains('New contacts')",
            run: "click",
        },
        {
            trigger: ".modal .o_data_row:contains('member000000@seed-mail.com')",
        },
        {
            content: "Start the initial sync from the review",
            trigger: ".modal button[name='action_start_sync']",
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
