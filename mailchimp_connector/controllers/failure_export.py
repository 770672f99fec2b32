# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import csv
import io

from odoo import http
from odoo.http import request


class MailchimpFailureExport(http.Controller):
    """Export Failed Records (F25): a CSV a person can open in a spreadsheet."""

    @http.route(
        "/mailchimp/pairing/<int:pairing_id>/failures.csv", type="http", auth="user"
    )
    def export_failures(self, pairing_id):
        pairing = request.env["mailchimp.pairing"].browse(pairing_id).exists()
        if not pairing:
            raise request.not_found()
        pairing.check_access("read")
        failures = request.env["mailchimp.sync.failure"].search_fetch(
            [("pairing_id", "=", pairing.id)],
            ["email", "partner_id", "direction", "kind", "reason", "date"],
        )
        sides = dict(failures._fields["direction"]._description_selection(request.env))
        kinds = dict(failures._fields["kind"]._description_selection(request.env))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        _ = request.env._
        writer.writerow(
            [
                _("Email"),
                _("Contact"),
                _("Direction"),
                _("Result"),
                _("Reason"),
                _("Date"),
            ]
        )
        for failure in failures:
            writer.writerow(
                [
                    failure.email or "",
                    failure.partner_id.display_name or "",
                    sides.get(failure.direction, ""),
                    kinds.get(failure.kind, ""),
                    failure.reason,
                    failure.date
                    and failure.date.isoformat(sep=" ", timespec="seconds"),
                ]
            )
        filename = f"mailchimp-failed-records-{pairing.id}.csv"
        return request.make_response(
            buffer.getvalue().encode("utf-8-sig"),
            headers=[
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Content-Disposition", http.content_disposition(filename)),
            ],
        )
