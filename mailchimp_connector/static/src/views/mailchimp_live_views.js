import { onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";
import { ListController } from "@web/views/list/list_controller";
import { listView } from "@web/views/list/list_view";

// Sent by the sync engine (engine/progress.py) when a run commits a page, at
// most once a second, and when it ends: {run_id, pairing_id}.
export const SYNC_PROGRESS = "mailchimp_connector.sync_progress";

/**
 * Calls `reload` when the bus says a run changed and `shows(payload)` says the
 * view displays it; one reload at a time, a notification arriving meanwhile
 * reloads once more after it.
 */
export function useSyncProgress(shows, reload) {
    const bus = useService("bus_service");
    let loading = null;
    let again = false;
    const onProgress = async (payload) => {
        if (!shows(payload)) {
            return;
        }
        if (loading) {
            again = true;
            return;
        }
        do {
            again = false;
            loading = reload();
            try {
                await loading;
            } finally {
                loading = null;
            }
        } while (again);
    };
    bus.subscribe(SYNC_PROGRESS, onProgress);
    onWillUnmount(() => bus.unsubscribe(SYNC_PROGRESS, onProgress));
}

export class MailchimpLiveFormController extends FormController {
    setup() {
        super.setup();
        useSyncProgress(
            ({ run_id, pairing_id }) => {
                const root = this.model.root;
                const shown = this.props.resModel === "mailchimp.sync.run" ? run_id : pairing_id;
                return !root.isNew && root.resId === shown;
            },
            async () => {
                // never under a person's unsaved changes
                if (!(await this.model.root.isDirty())) {
                    await this.model.root.load();
                }
            }
        );
    }
}

export class MailchimpLiveListController extends ListController {
    setup() {
        super.setup();
        useSyncProgress(
            ({ pairing_id }) =>
                this.props.resModel === "mailchimp.sync.run" ||
                this.model.root.records.some((record) => record.resId === pairing_id),
            async () => {
                const root = this.model.root;
                if (!root.editedRecord && !root.selection.length) {
                    await this.model.load();
                }
            }
        );
    }
}

registry.category("views").add("mailchimp_live_form", {
    ...formView,
    Controller: MailchimpLiveFormController,
});
registry.category("views").add("mailchimp_live_list", {
    ...listView,
    Controller: MailchimpLiveListController,
});
