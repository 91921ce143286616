// Why a record or photo is not synced, in the UI language: the sync core's own reasons, and the server's
// refusals told apart by the code the server gives them (push results' and problem documents' `code`).
import { type Key, t } from "./i18n";
import { reasonCode } from "./sync";

const REASONS: Record<string, Key> = {
  "created on this device": "r_created", "edited on this device": "r_edited", "sent, waiting for the server": "r_sent",
  "server unreachable; will retry": "r_unreachable", "merged with changes made elsewhere": "r_merged",
  "conflict settled": "r_settled", "conflict settled elsewhere": "r_settled_elsewhere", "deleted on the server while you edited it": "r_deleted",
  "taken on this device": "r_photo_taken", "sending": "r_photo_sending",
  "waiting for its visit to reach the server": "r_photo_wait_visit", "its visit was refused by the server": "r_photo_visit_refused",
};

/** A sync reason (the sync core's English, with the server's text in it) as words of the UI language; the
 * server's own text, when there is one, comes back apart as a detail. Refusals are recognised by the code the
 * server gives them, their HTTP status and field keys, never by reading the server's sentences. */
export function reasonText(reason: string | null | undefined): { text: string; detail: string } {
  if (!reason) return { text: "", detail: "" };
  const own = REASONS[reason];
  if (own) return { text: t(own), detail: "" };
  if (reason.startsWith("conflict ")) return { text: t("r_conflict"), detail: "" };
  if (reason.startsWith("the server dropped the unfinished upload")) return { text: t("r_photo_expired"), detail: "" };
  const image = /^the server refused the image: (.*)$/s.exec(reason);
  if (image) return { text: t("r_photo_bad_image"), detail: image[1] };
  const coded = /\((\d{3})\): (.*)$/s.exec(reason);
  const { code, words: detail } = reasonCode(coded ? coded[2] : reason);
  const status = coded ? Number(coded[1]) : 0;
  if (status === 401) return { text: t("r_signed_out"), detail };
  const known = code ? CODES[code] : undefined;
  if (known && code !== "invalid") return { text: t(known), detail };
  // A value the item does not take, refused where the wire is read (its field key says which field).
  if (/(^|\()(fields\.)?value: /.test(detail)) return { text: t("r_bad_value"), detail };
  if (known) return { text: t(known), detail };
  if (status === 403) return { text: t("r_forbidden"), detail };
  if (status === 422 || status === 400) return { text: t("r_invalid"), detail };
  if (status) return { text: t("r_refused", { n: status }), detail };
  return { text: t("r_other"), detail };
}

/** The server's refusal codes (push results' and problem documents' `code`) the app has its own words for. */
const CODES: Record<string, Key> = {
  "visit.frozen": "r_frozen", "visit.open_conflicts": "r_open_conflicts", "conflict.already_resolved": "r_already_settled",
  "answer.invalid_value": "r_bad_value", "forbidden": "r_forbidden", "invalid": "r_invalid", "sync.deleted": "r_deleted",
  "visit.school_not_covered": "r_not_covered", "conflict.record_gone": "r_record_gone",
};

