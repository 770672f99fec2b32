import { registry } from "@web/core/registry";

const APP = ".o-dropdown--menu .o_app[data-menu-xmlid='mailchimp_connector.mailchimp_menu_root']";

function openMailchimpApp() {
    return [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button:enabled",
            run: "click",
        },
        {
            content: "Open the Mailchimp app",
            trigger: APP,
            run: "click",
        },
    ];
}

// First run on an empty database: the app opens on Connect Mailchimp, the account
// connects, and the next step is offered: Create your first sync; the app opens
// there too until a sync exists. (The test points new accounts at the sandbox.)
registry.category("web_tour.tours").add("mailchimp_first_run_tour", {
    steps: () => [
        ...openMailchimpApp(),
        {
            content: "The app opens on Connect Mailchimp",
            trigger: ".o_form_view .alert-info h4:contains('Connect Mailchimp')",
        },
        {
            content: "It says where the API key comes from",
            trigger: ".o_form_view .alert-info:contains('API keys')",
        },
        {
            content: "Paste the API key",
            trigger: ".o_field_widget[name='api_key'] input",
            run: "edit 0123456789abcdef0123456789abcdef-us1",
        },
        {
            content: "Connect",
            trigger: ".o_form_view button[name='action_connect']",
            run: "click",
        },
        {
            content: "The account is connected",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Connected')",
        },
        {
            content: "The next step is offered",
            trigger: ".o_form_view .alert-success button[name='action_create_first_sync']",
            run: "click",
        },
        {
            content: "Create your first sync",
            trigger: ".o_form_view .alert-info h4:contains('Create your first sync')",
        },
        {
            content: "The only audience is already chosen",
            trigger: ".o_field_widget[name='audience_id'] input:value('Newsletter')",
        },
        {
            content: "It says what a sync is and what comes next",
            trigger: ".o_form_view .alert-info:contains('Start Sync')",
        },
        {
            content: "Leave without saving",
            trigger: ".o_form_button_cancel",
            run: "click",
        },
        ...openMailchimpApp(),
        {
            content: "Until a sync exists, the app opens on Create your first sync",
            trigger: ".o_form_view .alert-info h4:contains('Create your first sync')",
        },
        {
            trigger: ".o_field_widget[name='account_id'] input:value('Mailchimp')",
        },
    ],
});

// A salesperson opens the app: the campaigns, with an empty state that says what
// will appear; none of the administrators' menus.
registry.category("web_tour.tours").add("mailchimp_salesperson_home_tour", {
    steps: () => [
        ...openMailchimpApp(),
        {
            content: "The app opens on the campaigns",
            trigger: ".o_breadcrumb:contains('Campaigns')",
        },
        {
            content: "An empty state that says what will appear",
            trigger: ".o_view_nocontent:contains('No campaign yet')",
        },
        {
            content: "The salesperson's menus",
            trigger: ".o_menu_sections:contains('Email Activity'):contains('Members')",
        },
        {
            content: "No administrators' menu",
            trigger: ".o_menu_sections:not(:contains('Configuration')):not(:contains('Syncs'))",
        },
    ],
});

// Deleting a sync says that contacts are kept, from its form and from the list.
registry.category("web_tour.tours").add("mailchimp_delete_sync_tour", {
    url: "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
    steps: () => [
        {
            content: "Open the first sync",
            trigger: ".o_data_row .o_data_cell:contains('Delete me 1')",
            run: "click",
        },
        {
            content: "Actions",
            trigger: ".o_form_view .o_cp_action_menus button",
            run: "click",
        },
        {
            content: "Delete",
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Delete')",
            run: "click",
        },
        {
            content: "The dialog says contacts are kept",
            trigger: ".modal-title:contains('Delete this sync?')",
        },
        {
            trigger: ".modal-body:contains('Contacts are kept')",
        },
        {
            trigger: ".modal-footer button:contains('Delete the sync')",
            run: "click",
        },
        {
            content: "The form goes on to the other sync",
            trigger: ".o_form_view .o_field_widget[name='name'] input:value('Delete me 2')",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains('Syncs')",
            run: "click",
        },
        {
            content: "Select it",
            trigger: ".o_data_row:contains('Delete me 2') .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_cp_action_menus button",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Delete')",
            run: "click",
        },
        {
            content: "The list's dialog says it too",
            trigger: ".modal-body:contains('Contacts are kept')",
        },
        {
            trigger: ".modal-footer button:contains('Delete the sync')",
            run: "click",
        },
        {
            content: "No sync left: the empty state says what to do",
            trigger: ".o_view_nocontent:contains('Create your first sync')",
        },
    ],
});
