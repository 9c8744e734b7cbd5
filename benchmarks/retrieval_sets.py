"""Pages and questions for rag_bench's recall figures: identifier look-ups over near-identical pages, and paraphrases.

Identifier pages come in groups of near-identical pages that differ only in the identifier and one detail: error
codes (E4039 next to E4044), part numbers (LK-220X next to LK-220), versions (3.15.1 next to 3.15.2) and plan
names (Silver Fox next to Silver Hawk). A seeded generator draws them, so any seed gives a fresh set.

Questions come from two disjoint phrasing sets. "tune" was the only one looked at while choosing the fusion
and the tokeniser; "report" (the default) was written separately and only ever measured, so the reported recall
is on phrasings nobody tuned against. The paraphrase questions are split the same way.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Page:
    name: str  # file stem, unique
    text: str


@dataclass(frozen=True)
class Query:
    text: str
    page: str  # the name of the one page that answers it
    family: str


PRODUCTS = ["e-bike", "scooter", "wall charger", "thermostat", "router", "dishwasher", "espresso machine", "3D printer"]
COMPONENTS = [
    "battery",
    "motor",
    "brake sensor",
    "display",
    "controller",
    "charger",
    "throttle",
    "torque sensor",
    "speed sensor",
    "main cable",
    "firmware",
    "front light",
    "fan",
    "pump",
    "heater",
    "valve",
]
PART_KINDS = [
    "brake lever",
    "chain ring",
    "seat post",
    "mounting bracket",
    "hinge",
    "filter cartridge",
    "nozzle",
    "belt",
]
MODELS = ["Aria", "Brio", "Corsa", "Delta", "Evo", "Flux", "Gala", "Halo"]
APPS = ["Tunewise Desktop", "the mobile app", "the sync client", "the admin console"]
FIXES = [
    "a crash on start-up",
    "slow exports",
    "a login loop",
    "missing thumbnails",
    "a memory leak in sync",
    "wrong time zones in reports",
    "a broken print preview",
    "duplicate notifications",
    "an upload timeout",
    "a stuck progress bar",
    "garbled CSV headers",
    "a search ranking bug",
]
PLAN_A = ["Silver", "Gold", "Coral", "Slate", "Amber", "Cobalt"]
PLAN_B = ["Fox", "Hawk", "Otter", "Lynx"]

# Phrasings per family; {x} is the identifier, {p} the product / part / app it belongs to.
PHRASINGS = {
    "tune": {
        "error code": ["My {p} shows {x}, what should I do?", "What does error {x} mean?", "{x} on my {p}"],
        "part number": ["Is the {x} compatible with my bike?", "Which models does {x} fit?", "{x} {p} fitting"],
        "version": ["What changed in {x}?", "Release notes {x}", "What was fixed in version {x}?"],
        "plan": ["How much does the {x} plan cost?", "What is included in {x}?", "{x} plan price"],
    },
    "report": {
        "error code": [
            "Got {x} on the {p} screen, help?",
            "how do I fix code {x}",
            "the {p} keeps flashing {x}",
            "what causes {x}",
        ],
        "part number": [
            "will a {x} fit?",
            "{x} compatibility please",
            "can I use part {x} on an older frame",
            "torque for the {x}",
        ],
        "version": [
            "whats new in {x}",
            "did {x} fix anything",
            "is it worth updating to {x}",
            "changelog for release {x}",
        ],
        "plan": ["price of {x}?", "how many seats come with {x}", "storage on the {x} tier", "{x} monthly cost"],
    },
}


# Three more phrasing styles, each written blind by a different author who never saw this code or the pages
# (benchmarks/phrasings/*.json): bare codes, whole questions around a code, complaints that mention it in passing.
# None of them was looked at while choosing the search's gates; they are only measured.
AUTHORS = {path.stem: path for path in sorted((Path(__file__).parent / "phrasings").glob("*.json"))}
for _style, _path in AUTHORS.items():
    PHRASINGS[_style] = json.loads(_path.read_text("utf-8"))["templates"]


def identifier_pages(seed: int, groups: int = 2, size: int = 12) -> tuple[list[Page], dict[str, list[tuple[str, str]]]]:
    """Near-identical pages, `groups` groups of `size` per family; and per family the (identifier, context) pairs."""
    rng = random.Random(seed)
    pages: list[Page] = []
    keys: dict[str, list[tuple[str, str]]] = {"error code": [], "part number": [], "version": [], "plan": []}
    used: set[str] = set()
    for g in range(groups):
        letter = rng.choice("EFHP")
        base = rng.randrange(10, 90) * 100
        product = rng.choice(PRODUCTS)
        for n in sorted(rng.sample(range(base, base + 100), size)):
            code = f"{letter}{n}"
            if code in used:
                continue
            used.add(code)
            part = rng.choice(COMPONENTS)
            pages.append(
                Page(
                    f"err-{code}",
                    f"# Error {code}\n\nIf your {product} shows error {code}, the {part} "
                    f"reported a fault. Switch the {product} off, wait ten seconds and switch it on again. "
                    f"If {code} comes back, contact support with the serial number.\n",
                )
            )
            keys["error code"].append((code, product))
        prefix = "".join(rng.choice("ABCDKLMRST") for _ in range(2))
        kind = rng.choice(PART_KINDS)
        numbers = rng.sample(range(100, 990, 10), size // 2)
        for number in numbers:
            for suffix in ("", "X"):
                pn = f"{prefix}-{number}{suffix}"
                if pn in used:
                    continue
                used.add(pn)
                model, year, nm = rng.choice(MODELS), rng.randrange(2012, 2025), rng.randrange(4, 12)
                pages.append(
                    Page(
                        f"part-{pn}",
                        f"# Part {pn}\n\nThe {pn} {kind} fits {model} frames built after "
                        f"{year}. Tighten its bolts to {nm} Nm and check them after the first ride.\n",
                    )
                )
                keys["part number"].append((pn, kind))
        major, minor = rng.randrange(1, 9), rng.randrange(0, 30)
        app = rng.choice(APPS)
        versions = [f"{major}.{minor + d}.{patch}" for d in range(3) for patch in range(4)][:size]
        for v in versions:
            if v in used:
                continue
            used.add(v)
            pages.append(
                Page(
                    f"rel-{v}",
                    f"# Release {v}\n\nVersion {v} of {app} fixes {rng.choice(FIXES)} and "
                    f"updates the bundled certificates. Install {v} from the settings page.\n",
                )
            )
            keys["version"].append((v, app))
    plans = [f"{a} {b}" for a in PLAN_A for b in PLAN_B]
    rng.shuffle(plans)
    for plan in plans[: groups * size]:
        seats, storage, price = (
            rng.choice([1, 3, 5, 10, 25]),
            rng.choice([50, 100, 250, 500, 1000]),
            rng.randrange(5, 90),
        )
        pages.append(
            Page(
                f"plan-{plan.replace(' ', '-')}",
                f"# The {plan} plan\n\nThe {plan} plan costs ${price} a "
                f"month and includes {seats} seats and {storage} GB of storage. Upgrade or cancel the "
                f"{plan} plan at any time from the billing page.\n",
            )
        )
        keys["plan"].append((plan, "plan"))
    return pages, keys


def identifier_queries(keys: dict[str, list[tuple[str, str]]], phrasing: str, seed: int) -> list[Query]:
    rng = random.Random(seed + 1)
    prefix = {"error code": "err", "part number": "part", "version": "rel", "plan": "plan"}
    out = []
    for family, items in keys.items():
        for ident, context in items:
            template = rng.choice(PHRASINGS[phrasing][family])
            out.append(
                Query(template.format(x=ident, p=context), f"{prefix[family]}-{ident.replace(' ', '-')}", family)
            )
    return out


# Ordinary help pages, and two disjoint sets of questions that say the same thing in other words.
HELP = {
    "refunds": (
        "Refunds are issued within five business days to the card you paid with. Gift cards cannot be refunded.",
        "how long until I get my money back",
        "when does a reimbursement reach my account",
    ),
    "password": (
        "To reset your password, open Sign in, choose Forgot password and follow the emailed link within an hour.",
        "I can't remember my login, how do I get back in",
        "locked out and forgot the passphrase",
    ),
    "shipping": (
        "Orders ship from our warehouse within two days; standard delivery takes three to five working days.",
        "how soon will my parcel arrive",
        "delivery time for a package",
    ),
    "returns": (
        "You can send an item back within 30 days if it is unused and in its original box.",
        "can I return something I bought last week",
        "what is the window for sending goods back",
    ),
    "invoice": (
        "Invoices are emailed after each payment and can be downloaded as PDF from the Billing page.",
        "where can I find a receipt for my payment",
        "I need a bill for my accountant",
    ),
    "two-factor": (
        "Turn on two-factor authentication under Security to require a code from your phone at each login.",
        "how do I add an extra layer of login protection",
        "set up one-time codes when signing in",
    ),
    "delete-account": (
        "Deleting your account removes all projects after a 14-day grace period; this cannot be undone.",
        "how do I close my profile permanently",
        "I want to erase everything and leave",
    ),
    "export": (
        "Export your data as CSV or JSON from Settings, Data; large exports arrive by email as a zip archive.",
        "how can I download a copy of all my records",
        "get my information out in a spreadsheet",
    ),
    "battery-care": (
        "Store the battery half charged in a cool dry place, and charge it at least every three months.",
        "how should I keep the pack over winter",
        "best way to look after the cell when not riding",
    ),
    "tyre-pressure": (
        "Inflate tyres to the pressure printed on the sidewall; check it weekly with a gauge.",
        "how hard should my wheels be pumped",
        "how much air do the tires need",
    ),
    "warranty": (
        "The frame carries a five-year warranty; electrical parts are covered for two years from purchase.",
        "how long is the guarantee on the motor",
        "what does the coverage period include",
    ),
    "student-discount": (
        "Students get 20 percent off any annual plan after verifying a university email address.",
        "is there a cheaper price for people at college",
        "do you offer reduced rates for learners",
    ),
    "team-invite": (
        "Invite teammates from Members by entering their email; each invite link expires after seven days.",
        "how do I add colleagues to my workspace",
        "bring coworkers into the project",
    ),
    "data-residency": (
        "Customer data is stored in Frankfurt for EU accounts and in Virginia for all other regions.",
        "which country holds my files",
        "where are the servers that keep our information",
    ),
    "api-limits": (
        "The API allows 600 requests per minute per key; going over returns status 429 until the minute ends.",
        "how many calls can my integration make",
        "what throttling applies to programmatic access",
    ),
    "dark-mode": (
        "Switch to the dark theme under Appearance; it follows your system setting by default.",
        "can the screen be made black instead of white",
        "change the colours to a night look",
    ),
    "offline": (
        "The app keeps the last 30 days of documents available offline and syncs changes when you reconnect.",
        "can I work without internet on a plane",
        "does it function with no connection",
    ),
    "cancel": (
        "Cancel a subscription from Billing; you keep access until the end of the period you paid for.",
        "how do I stop being charged every month",
        "end my membership renewal",
    ),
    "notifications": (
        "Choose which emails and push alerts you receive under Notifications, per project.",
        "too many emails, how do I turn them down",
        "silence the alerts on my phone",
    ),
    "accessibility": (
        "Every screen supports keyboard navigation and screen readers; captions can be enabled for videos.",
        "can blind users operate the product",
        "support for people who cannot use a mouse",
    ),
    "chain-cleaning": (
        "Clean the chain every 300 km with a degreaser, dry it, then apply a thin coat of lubricant.",
        "how often should the drivetrain be oiled",
        "maintenance routine for a greasy bike chain",
    ),
    "firmware-update": (
        "Update the firmware from the companion app over Bluetooth; keep the device charged above half.",
        "how do I install the newest software on the device",
        "upgrade the gadget's internal program",
    ),
    "gift-cards": (
        "Gift cards never expire and can be combined with one promotional code per order.",
        "is there a deadline to spend a present voucher",
        "do prepaid vouchers run out",
    ),
    "price-match": (
        "We match a lower advertised price from a major retailer within 14 days of your purchase.",
        "I found it cheaper elsewhere, can you adjust",
        "will you refund the difference if a rival sells for less",
    ),
    "pickup": (
        "Collect orders in store with the QR code from your confirmation email and a photo ID.",
        "can I get my order from the shop myself",
        "what do I need to bring to fetch a purchase",
    ),
    "sso": (
        "Single sign-on with SAML or OIDC is available on business plans; set it up under Security, Identity.",
        "can employees log in with our corporate directory",
        "connect Okta or Azure AD for login",
    ),
}


def help_pages() -> list[Page]:
    return [
        Page(f"help-{name}", f"# {name.replace('-', ' ').title()}\n\n{body}\n") for name, (body, _, _) in HELP.items()
    ]


def paraphrase_queries(phrasing: str) -> list[Query]:
    index = 1 if phrasing == "tune" else 2
    return [Query(row[index], f"help-{name}", "paraphrase") for name, row in HELP.items()]
