import { registry } from "@web/core/registry";

// An administrator opens an account, presses Connect and sees its audiences.
registry.category("web_tour.tours").add("mailchimp_connect_tour", {
    url: "/odoo/action-mailchimp_connector.mailchimp_account_action",
    steps: () => [
        {
            content: "Open the account",
            trigger: ".o_data_row .o_data_cell:contains('Tour account')",
            run: "click",
        },
        {
            content: "Connect it",
            trigger: ".o_form_view button[name='action_connect']",
            run: "click",
        },
        {
            content: "The account is connected",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Connected')",
        },
        {
            content: "Its audiences are listed",
            trigger: ".o_field_widget[name='audience_ids'] .o_data_row:contains('Newsletter')",
        },
        {
            content: "The Mailchimp account's name is shown",
            trigger: ".o_field_widget[name='mailchimp_account_name']:contains('Sandbox Account')",
            run() {
                console.log("mailchimp_screenshot:account_connected");
            },
        },
        {
            content: "Still connected once the picture is taken",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Connected')",
        },
    ],
});
