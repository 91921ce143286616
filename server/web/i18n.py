"""Page strings: zh-CN by default, English via ?lang=en (kept in the session)."""
from __future__ import annotations

STRINGS = {
    "zh-CN": {"title": "教育督导", "login": "登录", "logout": "退出", "username": "用户名", "password": "密码",
              "login_failed": "用户名或密码错误", "login_throttled": "尝试次数过多，请稍后再试",
              "tickets": "整改单", "status": "状态", "due": "整改期限",
              "overdue": "已逾期", "history": "处理记录", "submit": "提交", "note": "说明",
              "milestone": "里程碑", "move_to": "转为", "acknowledged": "已确认", "in_progress": "整改中",
              "awaiting_verification": "待核验", "closed": "已销号", "open": "待处理", "cancelled": "已撤销"},
    "en": {"title": "Education supervision", "login": "Sign in", "logout": "Sign out", "username": "Username",
           "password": "Password", "login_failed": "Wrong username or password",
           "login_throttled": "Too many attempts; try again in a minute", "tickets": "Rectification tickets",
           "status": "Status", "due": "Due", "overdue": "Overdue", "history": "History", "submit": "Submit",
           "note": "Note", "milestone": "Milestone", "move_to": "Move to", "acknowledged": "Acknowledged",
           "in_progress": "In progress", "awaiting_verification": "Awaiting verification", "closed": "Closed",
           "open": "Open", "cancelled": "Cancelled"},
}


def add(strings: dict[str, dict[str, str]]) -> None:
    """Add an area's strings ({"zh-CN": {...}, "en": {...}}); a key defined twice is a mistake."""
    for lang, table in strings.items():
        clash = set(table) & set(STRINGS.setdefault(lang, {}))
        if clash:
            raise ValueError(f"page strings defined twice: {sorted(clash)}")
        STRINGS[lang].update(table)


def translate(key: str, lang: str) -> str:
    """The string for `key` in `lang`, falling back to zh-CN, then the key itself."""
    return STRINGS.get(lang, {}).get(key) or STRINGS["zh-CN"].get(key, key)
