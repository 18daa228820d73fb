"""The demo project: a support-ticket pool made up here from templates with random slots (nothing
downloaded, nothing read from ../shared), written to a temporary JSONL file and imported through
the real importer.

Three sources (email / chat / social), a two-level taxonomy (5 coarse labels, 23 fine ones and
"Other") with a long tail (several labels at ~1 % or less), rules for the rare labels, precision /
recall targets, and ~3 % planted near-duplicates (case, punctuation, signatures, an edited word).
"""
from __future__ import annotations

import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.projects.hotkeys import HOTKEY_ORDER, NONE_KEY
from labeling.projects.models import Label, Membership, Project, Rule, Source
from labeling.projects.reserved import new_slug_problem

from .services import import_path

DEMO_SLUG = "support-demo"
DEMO_USERS = {  # username: (password, role); documented in README and docs/intake.md
    "admin": ("longtail-admin", "admin"),
    "lead": ("longtail-lead", "lead"),
    "annotator": ("longtail-annotator", "annotator"),
}
SOURCES = {"email": 0.5, "chat": 0.3, "social": 0.2}
# The 100,000-item import is measured in docs/intake.md; a bigger demo is a typo, not a demo.
MIN_DEMO_ITEMS, MAX_DEMO_ITEMS = 1, 100_000


@dataclass(frozen=True)
class Fine:
    name: str
    weight: float  # share of the pool, in percent
    description: str
    templates: tuple[str, ...]
    precision: float | None = None
    recall: float | None = None


TAXONOMY: dict[str, tuple[str, list[Fine]]] = {
    "Billing": ("Money: charges, refunds, invoices, payment methods.", [
        Fine("refund_request", 9, "The customer asks for their money back.", (
            "I would like a refund for {product}, it is not what I expected.",
            "Please refund order {order}. I returned the {product} {days} days ago.",
            "Can I get my {amount} back? The {product} never worked.",
            "How long does a refund take? I sent back {product} on {date}.")),
        Fine("double_charge", 3, "Charged twice (or more) for one purchase.", (
            "I was charged twice for order {order}, {amount} each time.",
            "My card shows two payments of {amount} for the same {product}.",
            "You billed me {amount} two times on {date}, please fix it.")),
        Fine("invoice_request", 4, "Asks for an invoice, receipt or VAT document.", (
            "Could you send me an invoice for order {order}? I need it for my company.",
            "I need a receipt with our VAT number for the {plan} plan.",
            "Where can I download invoices for {month}?")),
        Fine("payment_failed", 6, "A payment is declined or does not go through.", (
            "My payment keeps failing with error {code} when I try to pay {amount}.",
            "The checkout says card declined but my bank says everything is fine.",
            "I can't renew the {plan} plan, the payment page just spins.")),
        Fine("chargeback_dispute", 0.6, "The customer disputes a charge with their bank.", (
            "I have filed a chargeback with my bank for the {amount} charge on {date}.",
            "My bank opened a dispute about order {order}, what do you need from me?"),
            precision=0.8, recall=0.9),
    ]),
    "Account": ("Signing in, passwords, account settings and personal data.", [
        Fine("password_reset", 10, "Cannot reset or change a password.", (
            "The password reset email never arrives, I checked spam too.",
            "How do I change my password? The link in {place} gives error {code}.",
            "Reset link says it expired after {minutes} minutes, can you send a new one?")),
        Fine("login_problem", 8, "Cannot sign in (other than a forgotten password).", (
            "I can't log in on my {device}, it says invalid session.",
            "Two-factor codes are not accepted when I sign in from {city}.",
            "Login loops back to the start page every time on {device}.")),
        Fine("account_deletion", 2, "Wants the account closed or deleted.", (
            "Please delete my account and everything in it.",
            "How do I close my account? I no longer use the {plan} plan.")),
        Fine("account_takeover", 0.5, "Someone else got into the account.", (
            "Someone hacked my account and changed the email address!",
            "I think my account was hacked, there are orders from {city} I never made.",
            "Somebody else logged into my account and changed the password."),
            precision=0.7, recall=0.95),
        Fine("data_privacy_request", 0.8, "GDPR / personal-data access or erasure request.", (
            "Under GDPR I request a copy of all personal data you hold about me.",
            "What personal data do you store about me? I want it erased under GDPR.")),
    ]),
    "Technical": ("The product misbehaves: crashes, slowness, bugs, integrations, security.", [
        Fine("app_crash", 7, "The app or site crashes or freezes.", (
            "The app crashes every time I open {screen} on my {device}.",
            "After the update to {version} the app closes right after the splash screen.",
            "It freezes when I tap {screen}, I have to restart the {device}.")),
        Fine("slow_performance", 5, "Slow pages, timeouts, lag.", (
            "Everything is super slow today, {screen} takes {seconds} seconds to load.",
            "Syncing takes forever since {date}.",
            "The dashboard times out for our team in {city}.")),
        Fine("bug_report", 6, "Something works wrongly (no crash).", (
            "The total on {screen} is wrong, it shows {amount} instead of the real price.",
            "Search does not find {product} although it is in stock.",
            "Notifications show up twice on {device} since version {version}.")),
        Fine("integration_api", 2, "API, webhooks, third-party integrations.", (
            "Your API returns {code} for the orders endpoint since {date}.",
            "The webhook to our {tool} stopped firing.",
            "The {tool} integration lost its connection, re-authorising does not help.")),
        Fine("security_vulnerability", 0.3, "A reported security hole.", (
            "I found a security vulnerability: an XSS in the {screen} search field.",
            "Responsible disclosure: your password reset can be exploited to take over accounts.",
            "There is a vulnerability in your API, CVE-2024-{code} seems to apply."),
            precision=0.6, recall=0.95),
    ]),
    "Orders": ("Orders and delivery: tracking, damage, wrong items, cancellations.", [
        Fine("where_is_my_order", 12, "Asks where an order is / tracking.", (
            "Where is my order {order}? It was supposed to arrive on {date}.",
            "Tracking for {order} has not moved in {days} days.",
            "My {product} still hasn't arrived, can you check?")),
        Fine("damaged_item", 3, "The delivered item is broken or damaged.", (
            "The {product} arrived broken, the box was crushed.",
            "Order {order} came with a cracked {product}.")),
        Fine("wrong_item", 2.5, "A different item than the one ordered.", (
            "I ordered a {product} but received a {product2}.",
            "Wrong size in order {order}, I asked for {size}.")),
        Fine("cancel_order", 5, "Wants to cancel an order.", (
            "Please cancel order {order}, I ordered by mistake.",
            "Can I still cancel the {product} I ordered today?")),
        Fine("address_change", 3, "Change the delivery address.", (
            "I need to change the delivery address for {order} to {city}.",
            "Wrong address on my order, I moved to {city} last week.")),
    ]),
    "Feedback": ("Opinions: praise, ideas, complaints, legal and safety issues.", [
        Fine("praise", 4, "Thanks or compliments.", (
            "Just wanted to say the new {screen} is great, thanks!",
            "Your support person {name} was amazing, problem solved in minutes.")),
        Fine("feature_request", 4, "Asks for a new feature.", (
            "It would be great if {screen} had a dark mode.",
            "Please add an export to {tool}, we need it every week.")),
        Fine("legal_threat", 0.4, "Threatens legal action.", (
            "If this is not fixed by {date} I will talk to my lawyer.",
            "I am going to sue you over the {amount} you took from me.",
            "Expect legal action from us regarding order {order}."),
            precision=0.8, recall=0.9),
        Fine("safety_concern", 0.2, "The product may hurt someone (fire, heat, injury).", (
            "My {product} started smoking while charging and almost caught fire.",
            "The charger for the {product} got so hot it burned my hand."),
            precision=0.6, recall=0.95),
    ]),
}
OTHER = Fine("Other", 3, "None of the labels fits.", (
    "Hi, do you have a store in {city}?", "What are your opening hours on {day}?",
    "Is the {product} available in {color}?", "Can I speak to a human please?"))

RULES = [  # (label, kind, pattern): hints for the rare labels
    ("chargeback_dispute", Rule.KEYWORD, "chargeback"),
    ("chargeback_dispute", Rule.REGEX, r"\bdispute\b"),
    ("account_takeover", Rule.REGEX, r"\bhack(ed|er)?\b|someone (else )?(logged|changed)"),
    ("data_privacy_request", Rule.KEYWORD, "GDPR"),
    ("security_vulnerability", Rule.REGEX, r"vulnerab|exploit|\bxss\b|cve-\d+"),
    ("legal_threat", Rule.REGEX, r"\blawyer\b|\bsue\b|legal action"),
    ("safety_concern", Rule.REGEX, r"caught fire|smok(e|ing)|burn(ed|t)?"),
]
SLOTS = {
    "product": ["wireless headphones", "smart watch", "coffee grinder", "yoga mat", "desk lamp", "phone case",
                "laptop stand", "air purifier", "running shoes", "backpack", "e-reader", "blender", "power bank"],
    "plan": ["Basic", "Pro", "Team", "Enterprise"], "device": ["iPhone", "Android phone", "iPad", "laptop", "Chromebook"],
    "city": ["Berlin", "Lyon", "Austin", "Osaka", "Lagos", "Lima", "Oslo", "Pune", "Leeds", "Perth"],
    "screen": ["the cart", "my orders", "settings", "the dashboard", "checkout", "search", "the home screen"],
    "tool": ["Slack", "Shopify", "Zapier", "Salesforce", "Google Sheets"], "name": ["Anna", "Marco", "Priya", "Tom", "Lea"],
    "month": ["January", "March", "June", "September", "November"], "day": ["Sunday", "Saturday", "public holidays"],
    "color": ["black", "white", "red", "blue"], "size": ["S", "M", "L", "XL", "42", "44"],
    "place": ["the email", "the app", "your site"],
    "relative": ["mother", "son", "partner", "colleague", "neighbour", "sister"],
}
OPENERS = {
    "email": ["Hello,", "Hi team,", "Dear support,", "Good morning,", "Hi there,", "To whom it may concern,", ""],
    "chat": ["hi", "hey", "hello?", "", "", "quick question:"],
    "social": ["@LongtailShop", "@LongtailHelp", "Hey @LongtailShop", ""],
}
CLOSERS = {
    "email": ["Thanks,\n{name}", "Best regards,\n{name}", "Kind regards, {name}", "Thank you in advance.", "Cheers, {name}"],
    "chat": ["", "thx", "pls help", "asap please", ""],
    "social": ["#fail", "#help", "#customerservice", "", "Not happy.", "Thanks!"],
}
CONTEXT = [  # optional sentences around the body, so that tickets from one template differ
    "I've been a customer for {years} years.", "This is the second time I'm writing about this.",
    "I already tried restarting everything.", "I bought it as a gift for my {relative}.",
    "We are a small team in {city}.", "It's really urgent for me.", "Your FAQ didn't help at all.",
    "I already talked to {name} on the phone.", "We are on the {plan} plan.", "This started after the last update.",
    "I'm traveling until {date}, so email is best.", "My {relative} has the same problem.",
    "I tried on the {device} as well.", "Honestly this is frustrating.", "No rush, but I'd like an answer this week.",
    "I ordered the {product} for my office.", "Your chat bot could not answer this.", "Happy to send screenshots.",
    "I've read the help page about {screen}.", "Please reply in English or German.",
]
SIGNATURES = ["Sent from my iPhone", "Sent from my Android device", "-- \nThis email may contain confidential information."]


def _fill(template: str, rng: random.Random) -> str:
    values = {k: rng.choice(v) for k, v in SLOTS.items()}
    values["product2"] = rng.choice([p for p in SLOTS["product"] if p != values["product"]])
    values.update(order=f"#{rng.randint(100000, 999999)}", amount=f"${rng.randint(5, 400)}.{rng.randint(0, 99):02d}",
                  date=f"{rng.choice(SLOTS['month'])} {rng.randint(1, 28)}", days=rng.randint(2, 30),
                  code=rng.choice([400, 401, 403, 404, 500, 502, 503]) + rng.randint(0, 3) * 1000,
                  version=f"{rng.randint(2, 9)}.{rng.randint(0, 20)}", minutes=rng.choice([10, 15, 30, 60]),
                  seconds=rng.randint(10, 90), years=rng.randint(2, 12))
    return template.format(**values)


def _ticket(fine: Fine, source: str, rng: random.Random) -> str:
    body = _fill(rng.choice(fine.templates), rng)
    if source == "chat":
        body = body.lower() if rng.random() < 0.6 else body
        body = body.rstrip(".") if rng.random() < 0.5 else body
    context_count = rng.choice({"email": [1, 2, 2, 3], "chat": [0, 1, 1], "social": [0, 1]}[source])
    before, after = [], []
    for sentence in rng.sample(CONTEXT, context_count):
        (before if rng.random() < 0.5 else after).append(_fill(sentence, rng))
    if source == "chat":
        before, after = [x.lower() for x in before], [x.lower() for x in after]
    middle = " ".join([*before, body, *after])
    opener = rng.choice(OPENERS[source])
    closer = _fill(rng.choice(CLOSERS[source]), rng)
    sep = "\n\n" if source == "email" else " "
    return sep.join(part for part in (opener, middle, closer) if part)


def _near_copy(text: str, rng: random.Random) -> str:
    edit = rng.choice(["case", "punct", "signature", "word"])
    if edit == "case":
        return text.upper() if rng.random() < 0.3 else text.lower()
    if edit == "punct":
        return text.replace(",", "").replace(".", "!") + "!!"
    if edit == "signature":
        return text + "\n\n" + rng.choice(SIGNATURES)
    words = text.split(" ")
    words.insert(rng.randrange(len(words) + 1), rng.choice(["really", "please", "still", "again"]))
    return " ".join(words)


def generate_rows(n_items: int = 6000, seed: int = 0, near_dup_share: float = 0.03):
    """Yield n_items rows (text, source, external_id, a customer_tier column that becomes metadata).
    The generating label is not exported: the demo starts cold, as a real project would."""
    rng = random.Random(seed)
    fines = [(coarse, f) for coarse, (_, children) in TAXONOMY.items() for f in children] + [(None, OTHER)]
    weights = [f.weight for _, f in fines]
    sources, source_weights = list(SOURCES), [0.45, 0.35, 0.2]
    made: list[str] = []
    for i in range(n_items):
        if made and rng.random() < near_dup_share:
            text, source = _near_copy(rng.choice(made), rng), rng.choice(sources)
        else:
            coarse, fine = rng.choices(fines, weights)[0]
            source = rng.choices(sources, source_weights)[0]
            text = _ticket(fine, source, rng)
            made.append(text)
        yield {"text": text, "source": source, "external_id": f"T-{i + 1:06d}",
               "customer_tier": rng.choice(["free", "free", "pro", "enterprise"])}


class DemoUser(NamedTuple):
    user: object
    password: str | None  # None: the user existed already and keeps its own password
    created: bool


def ensure_users(password: str | None = None) -> dict[str, DemoUser]:
    """The demo admin, lead and annotator. A missing one is created with its documented password (or
    ``password``) and role; an existing one is left exactly as it is (password, superuser and staff
    flags): on a real instance ``lead`` or ``admin`` may be a real person, and resetting them to the
    published passwords would hand their accounts to anyone who has read the README."""
    User = get_user_model()
    users = {}
    for username, (default_password, role) in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username, defaults={
            "email": f"{username}@demo.longtail", "password": make_password(password or default_password),
            "is_superuser": role == "admin", "is_staff": role == "admin"})
        users[username] = DemoUser(user, (password or default_password) if created else None, created)
    return users


def item_count_problem(n_items: int) -> str:
    """Why ``n_items`` cannot be the demo's number of tickets, or "" when it can."""
    if MIN_DEMO_ITEMS <= n_items <= MAX_DEMO_ITEMS:
        return ""
    return f"must be a whole number from {MIN_DEMO_ITEMS:,} to {MAX_DEMO_ITEMS:,}; got {n_items:,}."


def slug_problem(slug: str) -> str:
    """Why a new demo project cannot take ``slug``, or "" when it can (or the project exists: it is
    left as it is). The checks the new-project page and the admin make: pages and API routes take
    ``<slug:slug>``, so "bad slug" or "" would be a project no link reaches, and the shared artifact
    folders' names are reserved (labeling.projects.reserved)."""
    if Project.objects.filter(slug=slug).exists():
        return ""
    try:  # the model field's own checks: not blank, at most max_length, letters/digits/_/- only
        Project._meta.get_field("slug").clean(slug, None)
    except ValidationError as invalid:
        return " ".join(invalid.messages)
    return new_slug_problem(slug) or ""


@transaction.atomic
def _configure(project: Project) -> None:
    for name, quota in SOURCES.items():
        Source.objects.update_or_create(project=project, name=name, defaults={"quota": quota})
    # 0 is the annotators' "none of these" key: only the Other label gets it, never a rare label.
    hotkeys = iter(HOTKEY_ORDER)  # not the review page's keys
    order = 0
    for coarse, (description, children) in TAXONOMY.items():
        parent, _ = Label.objects.update_or_create(
            project=project, name=coarse, defaults={"description": description, "order": order, "hotkey": next(hotkeys)})
        order += 1
        for fine in children:
            Label.objects.update_or_create(project=project, name=fine.name, defaults={
                "description": fine.description, "parent": parent, "order": order, "hotkey": next(hotkeys),
                "precision_target": fine.precision, "recall_target": fine.recall})
            order += 1
    Label.objects.update_or_create(project=project, name=OTHER.name, defaults={
        "description": OTHER.description, "is_other": True, "order": order, "hotkey": NONE_KEY})
    labels = dict(Label.objects.filter(project=project).values_list("name", "id"))
    for label, kind, pattern in RULES:
        Rule.objects.get_or_create(project=project, label_id=labels[label], kind=kind, pattern=pattern)


def create_demo_project(*, slug: str = DEMO_SLUG, n_items: int = 6000, seed: int = 0, users: dict | None = None,
                        progress=None) -> tuple[Project, bool]:
    """Create (or complete) the demo project and import its tickets; returns (project, created).
    Idempotent: a project that already has items is left as it is. A size out of range, or a slug a
    new project cannot take, is refused before anything is written (an empty import would fail and
    leave an empty project behind)."""
    problem = item_count_problem(n_items)
    if problem:
        raise ValueError(f"n_items {problem}")
    if problem := slug_problem(slug):
        raise ValueError(f"slug {slug!r}: {problem}")
    project, created = Project.objects.get_or_create(slug=slug, defaults={
        "name": "Support tickets (demo)", "wave_size": 300, "batch_size": 20, "rare_threshold": 50,
        "description": "Customer-support tickets from e-mail, chat and social media; a few kinds are rare but matter.",
        "guidelines": "Pick the most specific label. Security, legal and safety issues win over everything else "
                      "in the same ticket. Use Other when nothing fits; skip only unreadable tickets.",
    })
    _configure(project)
    for username, role in (("lead", Membership.LEAD), ("annotator", Membership.ANNOTATOR)):
        if users and username in users:
            Membership.objects.get_or_create(user=users[username][0], project=project, defaults={"role": role})
    if project.items.exists():
        return project, False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-tickets.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row in generate_rows(n_items, seed):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        result = import_path(project, path, filename="demo-tickets.jsonl", progress=progress)
    if not result.ok:
        raise RuntimeError("the demo import failed: " + "; ".join(e.format("demo-tickets.jsonl") for e in result.errors[:5]))
    return project, True
