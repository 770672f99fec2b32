import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { formView } from "@web/views/form/form_view";
import { listView } from "@web/views/list/list_view";
import { MailchimpLiveFormController, MailchimpLiveListController } from "./mailchimp_live_views";

// A sync's views follow its runs live (mailchimp_live_views.js).
// Deleting a sync deletes no contact: say so instead of Odoo's generic "gone forever".
export function syncDeleteDialogProps(props, count) {
    return {
        ...props,
        title: count > 1 ? _t("Delete these syncs?") : _t("Delete this sync?"),
        body: _t(
            "Contacts are kept: they stay in Odoo, and their members stay in the Mailchimp audience. Only the sync's settings, field mapping and links between contacts and members are deleted; its history is kept, and Mailchimp stops sending the audience's changes to Odoo. To stop a sync for a while, press Pause instead."
        ),
        confirmLabel: _t("Delete the sync"),
        cancelLabel: _t("Keep it"),
    };
}

export class MailchimpPairingFormController extends MailchimpLiveFormController {
    get deleteConfirmationDialogProps() {
        return syncDeleteDialogProps(super.deleteConfirmationDialogProps, 1);
    }
}

export class MailchimpPairingListController extends MailchimpLiveListController {
    get deleteConfirmationDialogProps() {
        const root = this.model.root;
        const count = root.isDomainSelected ? root.count : root.selection.length;
        return syncDeleteDialogProps(super.deleteConfirmationDialogProps, count);
    }
}

registry.category("views").add("mailchimp_pairing_form", {
    ...formView,
    Controller: MailchimpPairingFormController,
});
registry.category("views").add("mailchimp_pairing_list", {
    ...listView,
    Controller: MailchimpPairingListController,
});
