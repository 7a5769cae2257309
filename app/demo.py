"""`scoreboard demo`: simulated learners completing lessons through the real HTTP API.

Each learner studies at a pace of their own, so the board moves and places change hands.
The demo signs its learners' tokens with the service's shared secret (as the lesson
player's backend would), puts its lessons in the catalog through the admin route, and
posts every completion exactly as a client should: a fresh completion_id per lesson,
retried with the same id after a 503 or a dropped connection.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from app.auth import SCOPE_ADMIN, SCOPE_WRITE, mint_token
from app.errors import ScoreboardError, SettingsError
from app.settings import PREFIX, Settings

NAMES = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Esra", "Farid", "Grace", "Hiro",
    "Ines", "Jonas", "Kemi", "Luca", "Mei", "Nadia", "Omar", "Priya",
)  # fmt: skip
TOPICS = (
    "Greetings", "Small talk", "The present simple", "The past simple", "Phrasal verbs",
    "At the airport", "Ordering food", "Writing emails", "Everyday idioms", "Job interviews",
)  # fmt: skip
LEVELS = ((1, 10), (2, 20), (3, 30))  # level and the points it is worth
ORDINAL = {1: "st", 2: "nd", 3: "rd"}
GIVE_UP_SECONDS = 30.0


@dataclass(frozen=True)
class Lesson:
    lesson_id: str
    title: str
    points: int


@dataclass
class Learner:
    user_id: str
    name: str
    pace: float  # how often this learner studies, relative to the others
    todo: list[Lesson] = field(default_factory=list)
    points: int = 0


def catalog() -> list[Lesson]:
    """The demo's lessons: every topic at three levels."""
    return [
        Lesson(f"demo-{t:02}-{level}", f"{topic} {level}", points)
        for t, topic in enumerate(TOPICS, 1)
        for level, points in LEVELS
    ]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else ORDINAL.get(n % 10, "th")
    return f"{n}{suffix}"


class Demo:
    """Drives simulated learners against a running service at `url`."""

    def __init__(
        self,
        url: str,
        settings: Settings,
        learners: int = 12,
        per_second: float = 2.0,
        seed: int | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        if not settings.jwt_secret or "HS256" not in settings.jwt_algorithms:
            raise SettingsError(
                f"the demo signs its learners' tokens with {PREFIX}JWT_SECRET (HS256); "
                "this service does not accept such tokens"
            )
        if not 1 <= learners <= len(NAMES):
            raise SettingsError(f"the demo has between 1 and {len(NAMES)} learners")
        if not 0 < per_second <= 100:
            raise SettingsError("the demo posts between 0 and 100 completions a second")
        self.url = url.rstrip("/")
        self.settings = settings
        self.per_second = per_second
        self.rng = random.Random(seed)  # noqa: S311 a simulation, not a secret
        self.say = say
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self.lessons = catalog()
        self.learners = [
            Learner(f"demo-{name.lower()}", name, self.rng.uniform(0.2, 1.0))
            for name in NAMES[:learners]
        ]
        for learner in self.learners:
            learner.todo = self.rng.sample(self.lessons, len(self.lessons))

    def run(self, seconds: float | None = None) -> int:
        """Posts completions until `seconds` pass or every lesson is done; returns how many
        were recorded."""
        try:
            self.client.get("/healthz")
        except httpx.TransportError:
            raise ScoreboardError(
                f"no service answers at {self.url}: start it first (`./dev serve`)"
            ) from None
        self.add_lessons()
        self.say(f"demo: {len(self.learners)} learners studying; watch {self.url}/")
        recorded = 0
        ends = None if seconds is None else time.monotonic() + seconds
        while ends is None or time.monotonic() < ends:
            studying = [learner for learner in self.learners if learner.todo]
            if not studying:
                self.say("demo: every learner has completed every lesson")
                break
            learner = self.rng.choices(studying, [s.pace for s in studying])[0]
            recorded += self.study(learner, learner.todo.pop())
            time.sleep(self.rng.expovariate(self.per_second))
        self.client.close()
        return recorded

    def add_lessons(self) -> None:
        token = mint_token(self.settings, "scoreboard-demo", [SCOPE_WRITE, SCOPE_ADMIN])
        for lesson in self.lessons:
            response = self.send(
                "PUT",
                f"/api/admin/lessons/{lesson.lesson_id}",
                token,
                {"title": lesson.title, "points": lesson.points},
            )
            if response.status_code != 200:
                raise ScoreboardError(
                    f"the service refused the demo's lessons: {describe(response)}"
                )

    def study(self, learner: Learner, lesson: Lesson) -> int:
        """Completes one lesson; 1 if it was recorded now."""
        token = mint_token(self.settings, learner.user_id, [SCOPE_WRITE], learner.name)
        body = {"completion_id": str(uuid.uuid4()), "lesson_id": lesson.lesson_id}
        response = self.send("POST", "/api/completions", token, body)
        if response.status_code in (200, 201):
            answer = response.json()
            learner.points = answer["total"]
            place = f", {ordinal(answer['rank'])} of all time" if answer["rank"] else ""
            self.say(
                f"{learner.name} completed {lesson.title!r} (+{answer['points']}): "
                f"{answer['total']} points{place}"
            )
            return int(response.status_code == 201)
        if response.status_code == 429:
            wait = float(response.headers.get("retry-after", "1"))
            self.say(f"demo: the service asks to slow down; waiting {wait:.0f} s")
            learner.todo.append(lesson)
            time.sleep(wait)
            return 0
        # 409 (done before, e.g. by an earlier demo run) and 422 (the hourly cap) are the
        # service's rules at work: this lesson is over for this learner.
        self.say(f"{learner.name}: {lesson.title!r} not counted: {describe(response)}")
        return 0

    def send(
        self, method: str, path: str, token: str, body: Mapping[str, object]
    ) -> httpx.Response:
        """Sends one request; after a 503 or a lost connection sends the very same request
        again (same completion_id), so that nothing is lost or counted twice."""
        gives_up = time.monotonic() + GIVE_UP_SECONDS
        while True:
            try:
                response = self.client.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                if response.status_code != 503:
                    return response
                problem = "the service is unavailable (503)"
            except httpx.TransportError as exc:
                problem = f"no answer from {self.url} ({type(exc).__name__})"
            if time.monotonic() > gives_up:
                raise ScoreboardError(f"{problem} for {GIVE_UP_SECONDS:.0f} s; giving up")
            self.say(f"demo: {problem}; trying the same request again")
            time.sleep(1)


def describe(response: httpx.Response) -> str:
    """The service's own error message, or the status."""
    try:
        return f"{response.status_code} {response.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)
