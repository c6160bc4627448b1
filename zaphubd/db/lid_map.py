"""A session's LID -> phone JID mappings (sql/010), and what learning one changes."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from zaphubd import jid
from zaphubd.db.database import Database

#: Mappings this process remembers, at most: every message of a LID contact consults the
#: map, and most of them carry a mapping already known.
KNOWN_MAX = 10_000


class LidMap:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: OrderedDict[tuple[uuid.UUID, str], str] = OrderedDict()

    async def phone_of(self, session_id: uuid.UUID, lid: str) -> str | None:
        phone = self._known.get((session_id, lid))
        if phone is None:
            phone = await self._db.fetchval(
                "SELECT phone_jid FROM lid_map WHERE session_id = $1 AND lid = $2",
                session_id,
                lid,
            )
            if phone is not None:
                self._remember(session_id, lid, phone)
        return phone

    def _remember(self, session_id: uuid.UUID, lid: str, phone: str) -> None:
        self._known[(session_id, lid)] = phone
        self._known.move_to_end((session_id, lid))
        while len(self._known) > KNOWN_MAX:
            self._known.popitem(last=False)

    async def resolve(
        self, session_id: uuid.UUID, address: str | None
    ) -> tuple[str | None, str | None]:
        """(what to show, the LID): a LID with a known phone JID becomes that phone JID;
        anything else stays as it is. The LID is None when `address` is not one."""
        if address is None or not jid.is_lid(address):
            return address, None
        return (await self.phone_of(session_id, address)) or address, address

    async def learn(self, session_id: uuid.UUID, lid: str, phone: str) -> bool:
        """Record the mapping; True when it is new (or changed). Messages stored with the
        LID alone (from it, or sent to it) get the phone JID, in the same transaction."""
        if self._known.get((session_id, lid)) == phone:
            return False  # known already: no write on every message of this contact
        async with self._db.transaction() as conn:
            changed = await conn.fetchval(
                """INSERT INTO lid_map (session_id, lid, phone_jid) VALUES ($1, $2, $3)
                   ON CONFLICT (session_id, lid) DO UPDATE SET phone_jid = EXCLUDED.phone_jid,
                       learned_at = now()
                   WHERE lid_map.phone_jid IS DISTINCT FROM EXCLUDED.phone_jid
                   RETURNING true""",
                session_id,
                lid,
                phone,
            )
            if changed:
                # From the contact, or in the one-to-one chat with it (sent from the phone).
                await conn.execute(
                    """UPDATE messages SET
                           from_jid = CASE WHEN from_jid = $2 THEN $3 ELSE from_jid END,
                           to_jid = CASE WHEN to_jid = $2 THEN $3 ELSE to_jid END,
                           chat_jid = CASE WHEN chat_jid = $2 THEN $3 ELSE chat_jid END,
                           metadata = metadata || jsonb_build_object('lid', $2::text)
                       WHERE session_id = $1 AND (from_jid = $2 OR chat_jid = $2)""",
                    session_id,
                    lid,
                    phone,
                )
        self._remember(session_id, lid, phone)
        return bool(changed)
