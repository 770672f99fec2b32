import { registry } from "@web/core/registry";

// An administrator selects contacts, adds them to a sync with Action > Add to
// Mailchimp…, reads the preview and confirms.
registry.category("web_tour.tours").add("mailchimp_contacts_add_tour", {
    url: "/odoo/contacts?view_type=list",
    steps: () => [
        {
            content: "Look for the contacts",
            trigger: ".o_searchview_input",
            run: "edit Tour Add",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "The list shows the search's result (a click before would be lost)",
            trigger: ".o_searchview_facet:contains('Tour Add')",
        },
        {
            trigger:
                ".o_list_table:has(.o_data_row:contains('Tour Add Two'))" +
                ":not(:has(tr.o_data_row:nth-child(3)))",
        },
        {
            content: "Select the first one",
            trigger: ".o_data_row:contains('Tour Add One') .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Tour Add One') .o_list_record_selector input:checked",
        },
        {
            content: "Select the second one",
            trigger: ".o_data_row:contains('Tour Add Two') .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Tour Add Two') .o_list_record_selector input:checked",
        },
        {
            trigger: ".o_data_row:contains('Tour Add One') .o_list_record_selector input:checked",
        },
        {
            content: "Open the Action menu",
            trigger: ".o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "Add to Mailchimp…",
            trigger: ".o-dropdown--menu .dropdown-item:contains('Add to Mailchimp')",
            run: "click",
        },
        {
            content: "Pick the sync",
            trigger: ".modal .o_field_widget[name='pairing_id'] input",
            run: "edit Tour sync",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Tour sync')",
            run: "click",
        },
        {
            content: "The preview: two contacts, both new to the audience",
            trigger: ".modal .o_field_widget[name='partner_count']:contains('2')",
        },
        {
            trigger: ".modal .o_field_widget[name='new_count']:contains('2')",
        },
        {
            trigger: ".modal .o_field_widget[name='member_count']:contains('0')",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "The notification says they are being sent",
            trigger: ".o_notification:contains('Contacts added to Tour sync: 2')",
        },
    ],
});
