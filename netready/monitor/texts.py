"""Words of the monitor commands, in Vietnamese and English (one home for each)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "added": "{n} portal(s) added, {m} updated (organisation {org}, every {every}); database {db}",
        "imported": "{n} portal(s) added, {m} updated from {file}; database {db}",
        "round": "scanned {n} portal(s): {compliant} compliant, {not_compliant} not compliant, {undetermined} "
                 "undetermined, {crashed} crashed{skipped}; alerts sent: {alerts}",
        "skipped": ", {n} skipped",
        "skip_one": "skipped {name}: {why}",
        "alert_error": "alert not delivered (retried next round): {err}",
        "nothing_due": "nothing due; next scan in {s:.0f} s",
        "no_portals": "no portal in the monitor yet: netready monitor add NAME... --org ORG",
        "token": "token for {who} (shown once, store it now): {token}",
        "token_who_org": "organisation {org}, {role}",
        "token_who_all": "every organisation, {role}",
        "serving": "netready serve on http://{listen}/ (API /api/v1/, OpenAPI /api/v1/openapi.json, metrics /metrics)",
        "worker": "netready worker: vantage point {vantage}, queue {queue}, broker {broker}",
        "loop": "monitor running: Ctrl-C or SIGTERM stops after the current round",
        "h_portal": "portal", "h_org": "organisation", "h_last": "last scan", "h_status": "status", "h_score": "score",
        "h_failing": "failing required", "h_cert": "cert days", "h_rrsig": "RRSIG days", "h_changed": "changed",
        "h_period": "period", "h_scans": "scans", "h_at": "at", "h_rule": "rule", "h_subject": "subject",
        "h_from": "from", "h_to": "to", "h_changes": "changes",
        "not_scanned": "not scanned yet", "first_scan": "first scan", "nothing_changed": "-",
        "diff_head": "changes since {since} ({n} portal(s)); became: {became}; newly failing: {failing}; "
                     "passing again: {passing}",
    },
    "vi": {
        "added": "đã thêm {n} cổng, cập nhật {m} (đơn vị {org}, chu kỳ {every}); cơ sở dữ liệu {db}",
        "imported": "đã thêm {n} cổng, cập nhật {m} từ {file}; cơ sở dữ liệu {db}",
        "round": "đã quét {n} cổng: {compliant} đạt, {not_compliant} không đạt, {undetermined} chưa xác định, "
                 "{crashed} lỗi khi quét{skipped}; cảnh báo đã gửi: {alerts}",
        "skipped": ", bỏ qua {n}",
        "skip_one": "bỏ qua {name}: {why}",
        "alert_error": "chưa gửi được cảnh báo (sẽ gửi lại ở lượt sau): {err}",
        "nothing_due": "chưa đến hạn quét; lượt tiếp theo sau {s:.0f} giây",
        "no_portals": "chưa có cổng nào được theo dõi: netready monitor add TÊN... --org ĐƠN_VỊ",
        "token": "mã truy cập cho {who} (chỉ hiện một lần, hãy lưu lại): {token}",
        "token_who_org": "đơn vị {org}, quyền {role}",
        "token_who_all": "mọi đơn vị, quyền {role}",
        "serving": "netready serve tại http://{listen}/ (API /api/v1/, OpenAPI /api/v1/openapi.json, số liệu /metrics)",
        "worker": "netready worker: điểm đo {vantage}, hàng đợi {queue}, broker {broker}",
        "loop": "đang theo dõi: Ctrl-C hoặc SIGTERM dừng sau lượt quét hiện tại",
        "h_portal": "cổng", "h_org": "đơn vị", "h_last": "lần quét cuối", "h_status": "trạng thái", "h_score": "điểm",
        "h_failing": "quy tắc bắt buộc không đạt", "h_cert": "ngày còn lại (chứng chỉ)",
        "h_rrsig": "ngày còn lại (RRSIG)", "h_changed": "thay đổi", "h_period": "giai đoạn", "h_scans": "số lần quét",
        "h_at": "thời điểm", "h_rule": "quy tắc", "h_subject": "đối tượng", "h_from": "trước", "h_to": "sau",
        "h_changes": "thay đổi",
        "not_scanned": "chưa quét", "first_scan": "lần quét đầu", "nothing_changed": "-",
        "diff_head": "thay đổi từ {since} ({n} cổng); chuyển sang: {became}; mới không đạt: {failing}; "
                     "đạt trở lại: {passing}",
    },
}

STATUS_WORDS = {
    "en": {"compliant": "compliant", "not-compliant": "not compliant", "undetermined": "undetermined",
           "crashed": "scan crashed", None: "-"},
    "vi": {"compliant": "đạt", "not-compliant": "không đạt", "undetermined": "chưa xác định",
           "crashed": "lỗi khi quét", None: "-"},
}


def t(lang: str, key: str, **fill: object) -> str:
    text = TEXT.get(lang, TEXT["en"])[key]
    return text.format(**fill) if fill else text
