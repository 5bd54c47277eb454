"""The ledger's transcoder: eventsourcing's ``JSONTranscoder``, byte for byte, faster."""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding


class LedgerTranscoder(JSONTranscoder):
    """eventsourcing's ``JSONTranscoder``, byte for byte, encoding and decoding faster.

    ``JSONEncoder.encode`` builds a new C encoder for every call and tracks every
    container it enters to detect reference cycles (event states have none): this one
    builds its C encoder once, without the cycle check (about 40% faster).  An event's
    state is a flat dict of text, times and ``None``: those values are written here
    directly, so the encoder's Python hook is not called for each datetime (it cost
    more than the rest of the state).  Decoding calls the decoder's C scanner directly,
    skipping two whitespace scans (about 15%); anything that is not exactly one JSON
    document goes the standard way, to its error.
    """

    def __init__(self) -> None:
        super().__init__()
        make_encoder = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
        self._encode_once = (
            None
            if make_encoder is None
            else make_encoder(None, self._encode_obj, _json_string, None, ":", ",", False, False, True)
        )
        # The decoder's own C scanner (typeshed misdeclares make_scanner's argument).
        self._scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, self.decoder))
        # '"key":' of the keys seen (event states have a few dozen keys in all).
        self._key_prefixes: dict[str, str] = {}
        # The last datetime written under each of those keys, and its isoformat().
        self._last_iso: dict[str, tuple[datetime, str]] = {}
        # isoformat() of UTC moments written lately (see _encode_flat).
        self._utc_iso: dict[datetime, str] = {}
        # '{"_type_":"datetime_iso","_data_":"' while datetimes are written as eventsourcing's
        # DatetimeAsISO writes them (None if another transcoding took its place).
        self._datetime_prefix: str | None = None

    def register(self, transcoding: Transcoding) -> None:
        """Register ``transcoding`` as ``JSONTranscoder.register`` does."""
        super().register(transcoding)
        registered = self.types.get(datetime)
        self._datetime_prefix = (
            '{"_type_":' + _json_string(registered.name) + ',"_data_":"' if type(registered) is DatetimeAsISO else None
        )

    def encode(self, obj: Any) -> bytes:
        """Encode ``obj`` as ``JSONTranscoder.encode`` does."""
        if self._encode_once is None or isinstance(obj, str):
            return super().encode(obj)
        if type(obj) is dict:
            text = self._encode_flat(obj)
            if text is not None:
                return text.encode("utf8")
        return "".join(self._encode_once(obj, 0)).encode("utf8")

    def _encode_flat(self, state: dict[Any, Any]) -> str | None:
        """``state`` as JSON text, its str, datetime and None values written here; None if a key is not text."""
        assert self._encode_once is not None
        datetime_prefix = self._datetime_prefix
        key_prefixes = self._key_prefixes
        last_iso = self._last_iso
        utc_iso = self._utc_iso
        items = []
        for key, value in state.items():
            if type(key) is not str:
                return None  # the encoder turns numbers and None into text keys: let it
            prefix = key_prefixes.get(key)
            if prefix is None:
                prefix = _json_string(key) + ":"
                if len(key_prefixes) < _MAX_KEY_PREFIXES:
                    key_prefixes[key] = prefix
            kind = type(value)
            if kind is str:
                items.append(prefix + _json_string(value))
            elif value is None:
                items.append(prefix + "null")
            elif kind is datetime and datetime_prefix is not None:
                # What DatetimeAsISO writes: isoformat() needs no escaping.  The events of a
                # batch share their receipt time: its text is made once per key and moment.
                last = last_iso.get(key)
                if last is not None and last[0] is value:
                    iso = last[1]
                elif value.tzinfo is UTC:
                    # Provider times are whole seconds shared by many reports (94% of the
                    # benchmark stream's occurred_at are seen among the last 4,096), and an
                    # aware isoformat() costs 1.1 us against 0.06 for this lookup.  Equal UTC
                    # datetimes have equal fields, so equal text (another zone's equal
                    # instant is written with its own offset: it never comes here).
                    iso = utc_iso.get(value) or self._utc_isoformat(value)
                else:
                    iso = value.isoformat()
                    if len(last_iso) < _MAX_KEY_PREFIXES:
                        last_iso[key] = (value, iso)  # one tuple: safe for concurrent encoders
                items.append(prefix + datetime_prefix + iso + '"}')
            else:
                items.append(prefix + "".join(self._encode_once(value, 0)))
        return "{" + ",".join(items) + "}"

    def _utc_isoformat(self, moment: datetime) -> str:
        """``moment.isoformat()``, kept for the next equal moment (the oldest half forgotten when full)."""
        iso = moment.isoformat()
        utc_iso = self._utc_iso
        if len(utc_iso) >= _MAX_MOMENTS:
            for old in list(utc_iso)[: _MAX_MOMENTS // 2]:
                utc_iso.pop(old, None)
        utc_iso[moment] = iso
        return iso

    def decode(self, data: bytes) -> Any:
        """Decode ``data`` as ``JSONTranscoder.decode`` does."""
        text = data.decode("utf8")
        try:
            obj, end = self._scan(text, 0)
        except StopIteration:
            end = -1
        return obj if end == len(text) else super().decode(data)


#: JSON text of a Python str, as the encoder writes it with ``ensure_ascii=False``.
_json_string: Callable[[str], str] = json.encoder.encode_basestring
#: Most distinct keys whose '"key":' the transcoder keeps (states have a few dozen).
_MAX_KEY_PREFIXES = 1024
#: Most UTC moments whose isoformat() the transcoder keeps.
_MAX_MOMENTS = 4096
