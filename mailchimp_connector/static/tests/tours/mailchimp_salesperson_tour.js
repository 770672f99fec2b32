import { registry } from "@web/core/registry";

const CONTACT = "Sally Prospect";

// A salesperson's day: Contacts filtered by Mailchimp status, a contact's status
// badge and its one activity line per campaign in the chatter; in the Mailchimp
// app, the reading menus only (no Syncs, no Configuration).
registry.category("web_tour.tours").add("mailchimp_salesperson_tour", {
    url: "/odoo/contacts?view_type=list",
    steps: () => [
        {
            content: "Open the search options",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Filter the contacts subscribed in Mailchimp",
            trigger: ".o_filter_menu .dropdown-item:contains('Mailchimp: Subscribed')",
            run: "click",
        },
        {
            content: "The filter is applied",
            trigger: ".o_searchview_facet:contains('Mailchimp: Subscribed')",
        },
        {
            content: "Group by Mailchimp status too",
            trigger: ".o_group_by_menu .dropdown-item:contains('Mailchimp Status')",
            run: "click",
        },
        {
            content: "One group: Subscribed",
            trigger: ".o_group_header:contains('Subscribed')",
            run: "click",
        },
        {
            content: "The unsubscribed contact is not listed",
            trigger: ".o_list_table:has(.o_data_row:contains('" + CONTACT + "'))" +
                ":not(:has(.o_data_row:contains('Ulla Unsubscribed')))",
        },
        {
            content: "Open the contact",
            trigger: ".o_data_row .o_data_cell:contains('" + CONTACT + "')",
            run: "click",
        },
        {
            content: "The status badge in the header",
            trigger: ".o_form_view .o_mailchimp_status .o_field_badge:contains('Subscribed')",
        },
        {
            content: "The status per audience, as the contact is in two",
            trigger: ".o_form_view .o_mailchimp_status:contains('Events: Unsubscribed')",
        },
        {
            content: "One chatter line for the campaign, with what the contact did",
            trigger: ".o-mail-Message:contains('Winter sale — sent'):contains('opened 2×')" +
                ":contains('shop.example.com/chairs')",
        },
        {
            content: "The contact's form, as a salesperson sees it",
            trigger: ".o-mail-Message:contains('Winter sale — sent')",
            run() {
                console.log("mailchimp_screenshot:screenshot_contact");
            },
        },
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button:enabled",
            run: "click",
        },
        {
            content: "Open the Mailchimp app",
            trigger:
                ".o-dropdown--menu .o_app[data-menu-xmlid='mailchimp_connector.mailchimp_menu_root']",
            run: "click",
        },
        {
            content: "The reading menus are there",
            trigger: ".o_main_navbar .o_menu_sections:contains('Campaigns'):contains('Email Activity')",
        },
        {
            content: "No administrator menus",
            trigger: ".o_main_navbar .o_menu_sections:not(:contains('Syncs'))" +
                ":not(:contains('Configuration'))",
        },
    ],
});
