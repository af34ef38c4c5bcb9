"""What every output shares: the delivery contract the consumer calls, the outcomes, and retries with backoff."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from streamer.alerts.payload import AlertPayload
from streamer.config.integrations import RetrySettings
from streamer.core.backoff import Backoff


class Abandoned(Exception):
    """The runner is stopping and its drain time is over: the alert stays pending in the group for the next start."""


class DeadLetter(Exception):
    """Given up on: the consumer puts the alert on the dead-letter stream with this error, then acknowledges it."""

    def __init__(self, error: str, attempts: int):
        super().__init__(error)
        self.error = error
        self.attempts = attempts


class Permanent(Exception):
    """A failure no retry can cure (the receiver refused the request as malformed or unauthorised)."""


@dataclass(frozen=True)
class Alert:
    """An alert as read from the stream: parsed into the contract at the edge (`event`, which the outputs read),
    the message as it came (`payload`, which a webhook sends on and a notification's template fills from), its
    stream id and when it was added (the id's milliseconds)."""

    event: AlertPayload
    payload: dict
    stream_id: str
    added_ts: float


LinkReport = Callable[[str, str], None]
"""An output says how its receiver is: ("up", "") once it takes alerts, ("down", why) when it is lost or failing."""


class Output(Protocol):
    kind: str
    on_link: LinkReport  # set by the consumer before the first delivery

    def start(self) -> None:
        """Connect, where the output holds a connection (MQTT); called once, before the first delivery."""

    def deliver(self, alert: Alert, give_up: threading.Event) -> bool:
        """Deliver, retrying as the output's settings say; True when delivered, False when deliberately skipped
        (a cooldown). Raises DeadLetter when given up on, Abandoned when `give_up` is set."""

    def close(self) -> None: ...


def with_retries(
    attempt: Callable[[], None],
    settings: RetrySettings,
    give_up: threading.Event,
    on_retry: Callable[[str], None],
    on_link: LinkReport | None = None,
) -> None:
    """Call `attempt` until it returns; after `max_attempts` failures (or one Permanent) raise DeadLetter. `on_link`
    hears "down" at a failure and "up" at a success (the consumer reports only the changes)."""
    backoff = Backoff(settings.backoff_s, settings.backoff_max_s)
    for number in range(1, settings.max_attempts + 1):
        if give_up.is_set():
            raise Abandoned()
        try:
            attempt()
            if on_link is not None:
                on_link("up", "")
            return
        except Permanent as error:
            raise DeadLetter(str(error), number) from None
        except Exception as error:  # noqa: BLE001 - any receiver failure is retried, then dead-lettered with its text
            if on_link is not None:
                on_link("down", f"{type(error).__name__}: {error}"[:300])
            if number == settings.max_attempts:
                raise DeadLetter(f"{type(error).__name__}: {error}", number) from None
            on_retry(f"{type(error).__name__}: {error}")
            if give_up.wait(backoff.next_delay()):
                raise Abandoned() from None
