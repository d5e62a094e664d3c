"""Webhook commands: /webhook add URL [signals], /webhook list, /webhook remove N, /webhook test.

The secret is shown once, when the webhook is added; lists never show it, and hide
query strings (where receivers often put a token).
"""

from __future__ import annotations

from alerts.domain import fmt
from alerts.domain.errors import UserError
from alerts.domain.webhooks import SIGNATURE_SCHEME, mask
from alerts.storage.webhooks import Webhook
from handlers.chat.core import Router
from handlers.chat.reply import Button, Reply, Request, require_group_admin
from handlers.chat.services import Services

router = Router()

USAGE = "/webhook add URL [signals] · /webhook list · /webhook remove N · /webhook test"
SIGNAL_WORDS = ("signals", "signal", "+signals")


def _what(hook: Webhook) -> str:
    return "alerts and signals" if hook.signals else "alerts"


@router.command(
    "webhook",
    "POST this chat's alerts as signed JSON to your URL",
    USAGE,
    "/webhook add https://example.com/hook",
    changes_state=True,
)
async def webhook(svc: Services, req: Request, args: list[str]) -> Reply:
    verb = args[0].lower() if args else "list"
    if verb in ("add", "+"):
        return await add(svc, req, args[1:])
    if verb in ("list", "ls"):
        return await list_reply(svc, req)
    if verb in ("remove", "rm", "del", "delete", "-"):
        return await ask_remove(svc, req, args[1] if len(args) > 1 else None)
    if verb == "test":
        return await test(svc, req)
    raise UserError(f"/webhook {args[0]}? Use one of: {USAGE}.")


async def add(svc: Services, req: Request, args: list[str]) -> Reply:
    require_group_admin(req, "webhooks")
    if not args:
        raise UserError("Which URL?", "For example /webhook add https://example.com/hook")
    extra = [a.lower() for a in args[1:]]
    if any(word not in SIGNAL_WORDS for word in extra):
        raise UserError(f"/webhook add URL [signals]: unexpected {' '.join(args[1:])!r}.")
    hook = await svc.webhooks.add(req.chat, args[0], signals=bool(extra))
    lines = [
        f"URL: {mask(hook.url)} — gets this chat's {_what(hook)}.",
        f"Secret (shown only now, keep it safe): {hook.secret}",
        "Check each POST: X-Altbot-Signature = sha256=hex(HMAC-SHA256(secret, "
        "X-Altbot-Timestamp + '.' + body)); drop repeated event_id values.",
    ]
    buttons = [[Button("Send a test", "whtest"), Button("My webhooks", "whls")]]
    return Reply(f"🔗 Webhook #{hook.number} added", lines, buttons=buttons, ephemeral=True)


async def list_reply(svc: Services, req: Request) -> Reply:
    hooks = await svc.webhooks.of(req.chat)
    if not hooks:
        return Reply("No webhooks yet", [f"Add one: {USAGE.split(' · ')[0]}"])
    lines = []
    for hook in hooks:
        state = f"DISABLED ({hook.disabled})" if hook.disabled else "active"
        failing = f", {hook.failures} failures in a row" if hook.failures else ""
        lines.append(
            f"#{hook.number} {mask(hook.url)} — {_what(hook)}; {state}{failing}; "
            f"added {fmt.when(hook.created)}"
        )
    buttons = [[Button(f"Remove #{h.number}", f"whrm:{h.id}")] for h in hooks]
    footer = f"Signature: {SIGNATURE_SCHEME}"
    title = f"Your webhooks ({len(hooks)}/{svc.webhooks.limit})"
    return Reply(title, lines, footer=footer, buttons=buttons, ephemeral=True)


async def ask_remove(svc: Services, req: Request, raw: str | None) -> Reply:
    require_group_admin(req, "webhooks")
    text = (raw or "").lstrip("#")
    if not text.isdigit() or len(text) > 3:
        raise UserError("Which webhook? Give its number, e.g. /webhook remove 1.", "See /webhook.")
    hook = next((h for h in await svc.webhooks.of(req.chat) if h.number == int(text)), None)
    if hook is None:
        raise UserError(f"This chat has no webhook #{text}.", "See /webhook list.")
    return _confirm(hook)


def _confirm(hook: Webhook) -> Reply:
    return Reply(
        f"Remove webhook #{hook.number} ({mask(hook.url)})?",
        ["Its secret is forgotten: adding the URL again gives a new one."],
        buttons=[[Button("Yes, remove", f"whrm:{hook.id}:yes"), Button("Cancel", "whls")]],
        tone="warn",
    )


@router.callback("whrm")
async def remove_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """`whrm:ID` asks first, `whrm:ID:yes` removes (by id: a stale button never hits another)."""
    require_group_admin(req, "webhooks")
    hooks = await svc.webhooks.of(req.chat)
    hook = next((h for h in hooks if args and str(h.id) == args[0]), None)
    if hook is None:
        raise UserError("That webhook is already removed.", "See /webhook list.")
    if args[1:] != ["yes"]:
        return _confirm(hook)
    gone = await svc.webhooks.remove(req.chat, hook.id)
    return Reply(f"🗑 Removed webhook #{gone.number}: {mask(gone.url)}")


@router.callback("whls")
async def list_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await list_reply(svc, req)


@router.callback("whtest")
async def test_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await test(svc, req)


async def test(svc: Services, req: Request) -> Reply:
    require_group_admin(req, "webhooks")
    hooks = await svc.webhooks.test(req.chat)
    names = ", ".join(f"#{h.number}" for h in hooks)
    return Reply(
        f"📨 Test event queued for webhook {names}",
        ['It arrives signed, with type "test"; failures show in /webhook list.'],
    )
