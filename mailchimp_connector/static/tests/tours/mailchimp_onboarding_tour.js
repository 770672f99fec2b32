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

// Connect Mailchimp from the screen the app opens on, and go on to the first sync.
function connectAndCreateFirstSync() {
    return [
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
    ];
}

// First run on an empty database: the app opens on Connect Mailchimp, the account
// connects, and the next step is offered: Create your first sync; the app opens
// there too until a sync exists. (The test points new accounts at the sandbox.)
registry.category("web_tour.tours").add("mailchimp_first_run_tour", {
    steps: () => [
        ...connectAndCreateFirstSync(),
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

// The whole first run: connect, the first sync's two steps, the review's numbers
// for the seeded audience, Start Sync, and the run's progress reaching 100 % on
// the form without a reload (the scheduler is played by the test, in the
// background, with the engine's bus notifications).
registry.category("web_tour.tours").add("mailchimp_first_sync_tour", {
    steps: () => [
        ...connectAndCreateFirstSync(),
        {
            content: "Both directions",
            trigger: ".o_field_widget[name='direction'] input[data-value='both']",
            run: "click",
        },
        {
            content: "Create the contacts Mailchimp has and Odoo lacks",
            trigger: ".o_field_widget[name='create_missing'] input",
            run: "click",
        },
        {
            content: "Their owner",
            trigger: ".o_field_widget[name='default_owner_id'] input",
            run: "edit Administrator",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Administrator')",
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
            content: "Go to the review",
            trigger: "button[name='action_setup_next']:contains('Review')",
            run: "click",
        },
        {
            content: "The review reads the audience: 1,235 members",
            trigger: ".modal .o_field_widget[name='members_count']:contains('1,235')",
        },
        {
            content: "1,200 subscribed members become contacts",
            trigger: ".modal .o_field_widget[name='created_count']:contains('1,200')",
        },
        {
            content: "25 unsubscribed and 10 cleaned members are not created",
            trigger: ".modal .o_field_widget[name='skip_unsubscribed_count']:contains('25')",
        },
        {
            trigger: ".modal .o_field_widget[name='skip_cleaned_count']:contains('10')",
        },
        {
            content: "The segment's 5 contacts go to Mailchimp",
            trigger: ".modal .o_field_widget[name='added_count']:contains('5')",
        },
        {
            content: "The company and the internal users are left out, and it says so",
            trigger: ".modal .alert-info:contains('left out of the segment')",
            run() {
                console.log("mailchimp_screenshot:screenshot_review");
            },
        },
        {
            content: "Start Sync",
            trigger: ".modal button[name='action_start_sync']",
            run: "click",
        },
        {
            content: "The sync is active; the run has not ended yet",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Active')",
        },
        {
            trigger: ".o_form_view .o_form_sheet",
            run() {
                // a full page load would forget this mark
                document.body.dataset.mailchimpFirstSync = "started";
            },
        },
        {
            content: "The progress reaches 100 % without a reload",
            trigger:
                "body[data-mailchimp-first-sync='started'] .o_field_widget[name='last_run_percent'] .o_progressbar_value:contains('100')",
            timeout: 30000,
        },
        {
            content: "The run is done",
            trigger:
                "body[data-mailchimp-first-sync='started'] .o_field_widget[name='last_run_state'] .badge:contains('Done')",
            run() {
                console.log("mailchimp_screenshot:screenshot_progress");
            },
        },
        {
            content: "Still the same page once the picture is taken",
            trigger: "body[data-mailchimp-first-sync='started'] .o_form_view",
        },
    ],
});
