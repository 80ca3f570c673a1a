"""The example project `tuneops init` writes: a support-ticket triage job spec and its datasets.

The tickets are generated from templates with a fixed seed, so every machine writes the same bytes;
held-out eval tickets use slot values the training tickets never use, so a model must generalize.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LABELS = ("billing", "technical", "account")

SYSTEM = ("You triage customer support tickets. Reply with exactly one label: "
          "billing, technical or account.")

TEMPLATES: dict[str, list[str]] = {
    "billing": [
        "I was charged {amount} twice for my {plan} subscription this month.",
        "Why does my invoice for {month} show {amount} instead of the usual price?",
        "Please refund the {amount} payment I made by mistake on {day}.",
        "My credit card ending in {digits} was billed after I cancelled the {plan} plan.",
        "Can I get a receipt with our VAT number for the {month} invoice?",
        "The {plan} plan price went up to {amount} without any notice.",
        "I need to change the card used for billing; the old one expired in {month}.",
        "There is an unknown charge of {amount} on my statement from {day}.",
        "How do I switch from monthly to annual billing on the {plan} plan?",
        "Our finance team never received the invoice for {month}; please resend it.",
        "The discount code {code} was not applied and I paid {amount}.",
        "I was promised a prorated credit of {amount} when I downgraded to {plan}.",
    ],
    "technical": [
        "The {app} app crashes every time I open the {feature} screen on my {device}.",
        "I get error code {code} when syncing files with {app}.",
        "The {feature} page has been loading forever since the update on {day}.",
        "Export to {format} produces an empty file in {app}.",
        "Notifications stopped working on my {device} after installing version {version}.",
        "The API returns a 500 error when I call the {feature} endpoint.",
        "Uploading a {format} file larger than {size} fails halfway.",
        "Search in {app} returns no results even for exact titles.",
        "{app} uses all the CPU on my {device} and the fan never stops.",
        "The {feature} button does nothing when I click it in {browser}.",
        "After the {version} update the dark mode colours are broken in {app}.",
        "Webhooks to our server time out with error {code} since {day}.",
    ],
    "account": [
        "I can't log in; the password reset email for {email} never arrives.",
        "Please delete my account and all data associated with {email}.",
        "How do I add {person} as an admin to our team workspace?",
        "I want to change the email on my account from {email} to a new one.",
        "My account was locked after too many sign-in attempts on {day}.",
        "Two-factor codes from my {device} are rejected when I sign in.",
        "Can you merge my two accounts? One uses {email}.",
        "I need to transfer ownership of the workspace to {person}.",
        "Someone in {city} signed in to my account; please secure it.",
        "How do I rename my organisation and change the username {handle}?",
        "{person} left the company; please remove their access to our account.",
        "I never verified {email} and now the account is suspended.",
        "Please invite {person} to our workspace using the address {email}.",
    ],
}

# Slot values for training and validation; eval tickets draw from the disjoint HELD_OUT pools.
SLOTS: dict[str, list[str]] = {
    "amount": ["$19", "$49.99", "$120", "$8.50", "$240", "$15", "$99", "$310"],
    "plan": ["Pro", "Team", "Starter", "Business"],
    "month": ["January", "March", "May", "July", "September", "November"],
    "day": ["Monday", "the 3rd", "last Friday", "June 12", "yesterday", "Wednesday", "the 15th", "April 2"],
    "digits": ["4421", "0093", "7710", "5566"],
    "code": ["E1042", "SYNC-7", "X500", "HALF20", "E2210"],
    "app": ["desktop", "mobile", "web", "Android", "iOS"],
    "feature": ["reports", "calendar", "settings", "dashboard", "inbox"],
    "device": ["iPhone 13", "Pixel 7", "MacBook", "Surface laptop", "iPad", "Chromebook", "Moto G", "iMac"],
    "format": ["CSV", "PDF", "XLSX", "JSON"],
    "version": ["4.2", "5.0.1", "3.9", "6.1"],
    "size": ["50 MB", "2 GB", "500 MB"],
    "browser": ["Firefox", "Chrome", "Safari", "Edge"],
    "email": ["ana@example.com", "li.wei@example.org", "sam@example.net", "kofi@example.com",
              "eva@example.com", "raj@example.org", "mo@example.net", "lena@example.com",
              "tariq@example.org", "yuki@example.net", "dara@example.com", "pablo@example.org"],
    "person": ["Maria", "Tom", "Priya", "Jonas", "Aisha", "Ben", "Carmen", "Dmitri", "Elif", "Femi"],
    "city": ["Lisbon", "Osaka", "Toronto", "Nairobi", "Denver", "Hanoi", "Krakow", "Recife"],
    "handle": ["@acme-ops", "@blue-team", "@northwind", "@globex", "@initech", "@umbrella"],
}
HELD_OUT: dict[str, list[str]] = {
    "amount": ["$64", "$12.75", "$450"], "plan": ["Enterprise", "Plus"], "month": ["February", "October"],
    "day": ["Tuesday", "the 21st", "March 30"], "digits": ["3318"], "code": ["E3301", "LOGIN-9", "SPRING10"],
    "app": ["tablet", "Linux"], "feature": ["billing history", "projects"],
    "device": ["Galaxy S23", "ThinkPad", "Pixel Fold"],
    "format": ["DOCX", "XML"], "version": ["7.0"], "size": ["1 GB"], "browser": ["Opera", "Brave"],
    "email": ["noor@example.com", "ivan@example.org", "zoe@example.net", "omar@example.com",
              "ines@example.org", "kwame@example.net"],
    "person": ["Chen", "Fatima", "Goran", "Hana", "Ilse"],
    "city": ["Lima", "Oslo", "Perth", "Quito"], "handle": ["@redwood", "@stark-labs", "@wayne-co"],
}


def _ticket(rng: random.Random, label: str, pools: dict[str, list[str]]) -> dict:
    text = rng.choice(TEMPLATES[label])
    for slot, values in pools.items():
        while "{" + slot + "}" in text:
            text = text.replace("{" + slot + "}", rng.choice(values), 1)
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                         {"role": "assistant", "content": label}]}


def tickets(n: int, *, seed: int, held_out: bool = False, seen: set[str] | None = None) -> list[dict]:
    """``n`` distinct labelled tickets, labels in turn, from the training or the held-out slot pools.

    Tickets already in ``seen`` are drawn again, so splits that share ``seen`` never overlap (the
    example must pass its own preflight: no duplicates, no train/validation overlap).
    """
    rng = random.Random(seed)
    pools = HELD_OUT if held_out else SLOTS
    seen = set() if seen is None else seen
    out = []
    for i in range(n):
        while True:
            ticket = _ticket(rng, LABELS[i % len(LABELS)], pools)
            text = ticket["messages"][1]["content"]
            if text not in seen:
                seen.add(text)
                out.append(ticket)
                break
    return out


SPEC = """\
# An example job: classify support tickets into billing / technical / account.
# Switching provider is one line: change model.provider (and model.base) below.
name = "support-triage"
description = "Route support tickets to the right queue"
method = "sft"

[model]
provider = "sandbox"          # the built-in local stand-in; try "openai" with OPENAI_API_KEY set
base = "sandbox-mini"
suffix = "triage"

[data]
train = "data/support-triage.train.jsonl"
validation = "data/support-triage.valid.jsonl"

[hyperparameters]
epochs = 3
batch_size = "auto"
learning_rate_multiplier = "auto"
seed = 7

[eval]
set = "data/support-triage.eval.jsonl"
metrics = ["exact_match", "label_accuracy"]

[promote]
alias = "production"
metric = "exact_match"
margin = 0.02
beat_base = true
min_examples = 50

[budget]
per_run_usd = 25.0
per_month_usd = 200.0
"""

# The example's retrain policy, kept apart so tests can swap in their own rules.
RETRAIN = """
# When `tuneops schedule` retrains: the production model's score drops, enough new tickets
# arrive, or the model gets old (`tuneops schedule plan` shows what would fire and why).
[retrain]
eval_below = 0.85
new_examples = 50
max_age_days = 30
cooldown_hours = 24
"""

ECONOMICS = """
# What the fine-tune is worth (`tuneops roi support-triage`): traffic, the few-shot prompt the base
# model needs and the fine-tuned model does without, and what one correctly routed ticket saves.
[economics]
requests_per_month = 20000
replaced_prompt_tokens = 400
value_per_correct_usd = 0.02
"""
SPEC += RETRAIN + ECONOMICS


def write_example(directory: Path, *, overwrite: bool = False) -> list[Path]:
    """Write the example spec and datasets under ``directory`` (normally ``jobs/``)."""
    seen: set[str] = set()
    files = {
        directory / "support-triage.toml": SPEC,
        directory / "data" / "support-triage.train.jsonl": _jsonl(tickets(300, seed=1, seen=seen)),
        directory / "data" / "support-triage.valid.jsonl": _jsonl(tickets(60, seed=2, seen=seen)),
        directory / "data" / "support-triage.eval.jsonl": _jsonl(tickets(90, seed=3, held_out=True, seen=seen)),
    }
    written = []
    for path, text in files.items():
        if path.exists() and not overwrite:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
