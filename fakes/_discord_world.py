"""What the fake Discord knows (bot, users, guilds, DM channels) and the payloads built from it.

Payload shapes follow what discord.py 2.7 parses (``state.py``, ``guild.py``, ``member.py``,
``channel.py``), so an unmodified client builds its cache from them without KeyErrors. Both
halves of the fake use these builders: REST answers and gateway DISPATCH events.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
# view_channel | send_messages | embed_links | attach_files | read_message_history |
# add_reactions | use_external_emojis | use_application_commands: what @everyone usually has.
DEFAULT_EVERYONE_PERMS = 0x400 | 0x800 | 0x4000 | 0x8000 | 0x10000 | 0x40 | 0x40000 | 0x80000000
# Enough for a bot that posts alerts with embeds and charts.
DEFAULT_BOT_PERMS = DEFAULT_EVERYONE_PERMS | 0x4000000000  # + send_messages_in_threads
ADMINISTRATOR = 0x8


class Snowflakes:
    """Monotonic snowflakes shaped like Discord's, so created_at on parsed objects is sane."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(value, self._last + 1)
        return self._last


def iso_now() -> str:
    """Timestamp in the ISO form Discord sends (discord.utils.parse_time reads it)."""
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class FakeGuild:
    """A guild as the fake knows it; payloads are built from this on demand."""

    id: int
    name: str
    owner_id: int
    channels: dict[int, JSON] = field(default_factory=dict)
    roles: list[JSON] = field(default_factory=list)
    members: dict[int, JSON] = field(default_factory=dict)


@dataclass
class World:
    """Everything the fake Discord knows: bot identity, users, guilds and DM channels."""

    bot_id: int
    app_id: int
    bot_name: str
    ids: Snowflakes = field(default_factory=Snowflakes)
    users: dict[int, JSON] = field(default_factory=dict)
    guilds: dict[int, FakeGuild] = field(default_factory=dict)
    dm_channels: dict[int, JSON] = field(default_factory=dict)  # user id -> DM channel

    def user(self, user_id: int, name: str | None = None) -> JSON:
        """User payload (created on first use) with the fields discord.py's BaseUser reads."""
        if user_id not in self.users:
            self.users[user_id] = {
                "id": str(user_id), "username": name or f"user{user_id}", "discriminator": "0",
                "global_name": name, "avatar": None, "bot": False, "system": False,
                "public_flags": 0, "banner": None, "accent_color": None,
                "avatar_decoration_data": None, "primary_guild": None, "collectibles": None,
            }
        elif name:
            self.users[user_id].update(username=name, global_name=name)
        return self.users[user_id]

    def bot_user(self) -> JSON:
        """The bot's own user (also the /users/@me answer, hence verified/mfa fields)."""
        return {**self.user(self.bot_id, self.bot_name), "bot": True, "verified": True,
                "mfa_enabled": False, "flags": 0, "locale": "en-US"}

    def find_channel(self, channel_id: int) -> tuple[JSON, FakeGuild | None] | None:
        """Locate a guild channel or a DM channel by id."""
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id], guild
        for dm in self.dm_channels.values():
            if int(dm["id"]) == channel_id:
                return dm, None
        return None

    def dm_channel(self, user_id: int) -> JSON:
        """The bot's DM channel with a user; one per user, as on Discord."""
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = {
                "id": str(self.ids.next()), "type": 1, "last_message_id": None,
                "recipients": [self.user(user_id)], "flags": 0,
            }
        return self.dm_channels[user_id]

    def dm_recipient(self, channel_id: int) -> int | None:
        """User id of the DM channel's recipient, or None for non-DM channels."""
        for uid, dm in self.dm_channels.items():
            if int(dm["id"]) == channel_id:
                return uid
        return None

    def member_permissions(self, guild: FakeGuild, user_id: int) -> int:
        """Guild-level permissions (roles only; overwrites ignored): what Discord sends."""
        member = guild.members.get(user_id)
        if user_id == guild.owner_id:
            return (1 << 53) - 1
        role_ids = {str(guild.id), *(member["roles"] if member else [])}
        perms = 0
        for role in guild.roles:
            if role["id"] in role_ids:
                perms |= int(role["permissions"])
        return (1 << 53) - 1 if perms & ADMINISTRATOR else perms

    def member_payload(self, guild: FakeGuild, user_id: int, *, with_perms: bool = False) -> JSON:
        """Member object; ``with_perms`` adds ``permissions`` as in interaction payloads."""
        member = guild.members.get(user_id) or self._member(user_id, [])
        out = {**member, "user": self.user(user_id)}
        if with_perms:
            out["permissions"] = str(self.member_permissions(guild, user_id))
        return out

    def _member(self, user_id: int, roles: list[str]) -> JSON:
        return {
            "roles": roles, "nick": None, "avatar": None, "banner": None,
            "joined_at": iso_now(), "premium_since": None, "deaf": False, "mute": False,
            "flags": 0, "pending": False, "communication_disabled_until": None,
        }

    def add_guild(
        self,
        guild_id: int,
        name: str,
        channels: list[int | JSON],
        members: list[tuple[int, str, int]],
        *,
        everyone_permissions: int,
        bot_permissions: int,
        owner_id: int | None,
    ) -> FakeGuild:
        """Create a guild with @everyone, one role per member (carrying its permissions),
        a managed bot role, and the bot itself as a member."""
        guild = FakeGuild(guild_id, name, owner_id if owner_id is not None else self.ids.next())
        guild.roles.append(self._role(guild_id, "@everyone", everyone_permissions, 0))
        bot_role = self._role(self.ids.next(), self.bot_name, bot_permissions, 1)
        bot_role.update(managed=True, tags={"bot_id": str(self.bot_id)})
        guild.roles.append(bot_role)
        guild.members[self.bot_id] = self._member(self.bot_id, [bot_role["id"]])
        self.bot_user()
        for pos, (uid, uname, perms) in enumerate(members, start=2):
            self.user(uid, uname)
            role = self._role(self.ids.next(), f"{uname}-role", perms, pos)
            guild.roles.append(role)
            guild.members[uid] = self._member(uid, [role["id"]])
        for pos, chan in enumerate(channels):
            raw: JSON = {"id": chan} if isinstance(chan, int) else dict(chan)
            cid = int(raw["id"])
            guild.channels[cid] = {
                "type": 0, "name": f"channel-{cid}", "position": pos, "permission_overwrites": [],
                "nsfw": False, "parent_id": None, "topic": None, "last_message_id": None,
                "rate_limit_per_user": 0, "flags": 0, **raw, "id": str(cid),
                "guild_id": str(guild_id),
            }
        self.guilds[guild_id] = guild
        return guild

    @staticmethod
    def _role(role_id: int, name: str, perms: int, position: int) -> JSON:
        return {
            "id": str(role_id), "name": name, "permissions": str(perms), "position": position,
            "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                   "tertiary_color": None},
            "hoist": False, "managed": False, "mentionable": False, "icon": None,
            "unicode_emoji": None, "flags": 0,
        }

    def guild_payload(self, guild: FakeGuild) -> JSON:
        """GUILD_CREATE payload; member_count equals the members sent so no chunking."""
        members = [self.member_payload(guild, uid) for uid in guild.members]
        return {
            "id": str(guild.id), "name": guild.name, "icon": None, "splash": None,
            "discovery_splash": None, "banner": None, "description": None,
            "owner_id": str(guild.owner_id), "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0,
            "premium_subscription_count": 0, "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US", "features": [], "emojis": [], "stickers": [],
            "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "public_updates_channel_id": None, "safety_alerts_channel_id": None,
            "vanity_url_code": None, "application_id": None, "max_members": 500000,
            "max_video_channel_users": 25, "unavailable": False, "large": False,
            "lazy": True, "joined_at": iso_now(), "member_count": len(members),
            "roles": guild.roles, "channels": list(guild.channels.values()), "members": members,
            "threads": [], "presences": [], "voice_states": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [], "embedded_activities": [],
        }

    def ready_payload(self, session_id: str, resume_url: str, identify: JSON) -> JSON:
        """READY ``d`` for an IDENTIFY ``d``: every guild starts unavailable, then arrives as
        its own GUILD_CREATE; a sharded client gets its ``shard`` back."""
        ready: JSON = {
            "v": 10, "user": self.bot_user(), "user_settings": {}, "relationships": [],
            "private_channels": [], "presences": [], "guild_join_requests": [],
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session_id, "session_type": "normal",
            "resume_gateway_url": resume_url, "geo_ordered_rtc_regions": ["us-east"],
            "application": {"id": str(self.app_id), "flags": 1 << 23},
            "_trace": ["fake-discord"],
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready

    def message_payload(self, channel_id: int, payload: JSON, attachments: list[JSON], *,
                        guild_id: int | None, webhook: bool, extra_flags: int) -> JSON:
        """A full message object as the REST API returns it, authored by the bot."""
        msg: JSON = {
            "id": str(self.ids.next()), "type": 0, "channel_id": str(channel_id),
            "author": self.bot_user(), "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [], "attachments": attachments,
            "components": payload.get("components") or [], "timestamp": iso_now(),
            "edited_timestamp": None, "tts": bool(payload.get("tts")),
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "mention_channels": [], "pinned": False, "reactions": [],
            "flags": int(payload.get("flags") or 0) | extra_flags, "nonce": payload.get("nonce"),
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        if webhook:
            msg.update(webhook_id=str(self.app_id), application_id=str(self.app_id))
        return msg

    def stored_command(self, body: JSON, guild_id: int | None, old: JSON | None) -> JSON:
        """A synced command as Discord returns it; keeps the old id when the name persists."""
        cmd: JSON = {
            "type": 1, "options": [], "default_member_permissions": None, "dm_permission": True,
            "nsfw": False, "contexts": None, "integration_types": [0],
            "name_localizations": None, "description_localizations": None, "description": "",
            **body,
            "id": old["id"] if old else str(self.ids.next()),
            "application_id": str(self.app_id), "version": str(self.ids.next()),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    def interaction_payload(
        self, itype: int, name: str, options: list[JSON], *, command: JSON | None,
        guild_command: bool, user_id: int, channel_id: int | None, guild_id: int | None,
        permissions: str | None, resolved: JSON | None, locale: str,
    ) -> JSON:
        """INTERACTION_CREATE ``d`` for a slash command (2) or autocomplete (4).

        ``data.guild_id`` is only present for guild-registered commands, as on Discord
        (discord.py's tree uses it to pick guild vs global commands)."""
        data: JSON = {"id": command["id"] if command else str(self.ids.next()), "name": name,
                      "type": 1, "options": options}
        if guild_command:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        payload: JSON = {
            "id": str(self.ids.next()), "application_id": str(self.app_id), "type": itype,
            "token": "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48), "version": 1,
            "data": data, "locale": locale, "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is None:  # a DM with the bot: the channel is always the DM channel
            chan = self.dm_channel(user_id)
            payload.update(user=self.user(user_id), channel=chan, channel_id=chan["id"],
                           context=1, app_permissions=str(DEFAULT_BOT_PERMS),
                           authorizing_integration_owners={"0": "0"})
            return payload
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise KeyError(f"unknown guild {guild_id}; call add_guild() first")
        if channel_id is None:  # default: the guild's first text channel
            channel_id = next(int(c["id"]) for c in guild.channels.values() if c["type"] == 0)
        member = self.member_payload(guild, user_id, with_perms=True)
        if permissions is not None:
            member["permissions"] = permissions
        chan = {**guild.channels.get(channel_id, {"id": str(channel_id), "type": 0,
                                                   "name": f"channel-{channel_id}"}),
                "permissions": member["permissions"]}
        payload.update(
            guild_id=str(guild_id), member=member, channel=chan, channel_id=str(channel_id),
            context=0,
            guild={"id": str(guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US", app_permissions=str(self.member_permissions(guild, self.bot_id)),
            authorizing_integration_owners={"0": str(guild_id)},
        )
        return payload
