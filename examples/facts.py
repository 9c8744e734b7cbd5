"""Larkspur Cycles' facts, as the help centre states them: the conversations quote these strings verbatim.

`make_examples.py` checks that each fact below appears, word for word, in the help-centre page named beside it,
so a fact edited here but not in the page (or the other way round) stops the generator.
"""

from __future__ import annotations

# plan -> (monthly price in £, bike, deposit, theft excess, replacement value, mobile puncture callout)
PLANS = {
    "Commuter": (24, "Metro 7", None, "£95", "£640", "£15"),
    "Commuter Plus": (32, "Metro 7", None, "£95", "£640", "free"),
    "E-Ride": (69, "Volt", "£150", "£250", "£2,150", "free"),
    "Cargo": (119, "Haul", "£150", "£350", "£4,900", "free"),
    "Kids Grow": (12, "Sprout", None, "£40", "£280", "£15"),
}

EBIKES = ("E-Ride", "Cargo")  # the plans with a battery, a £150 deposit and a GPS tracker

# city -> (workshop, address, Monday to Friday, Saturday, Sunday)
WORKSHOPS = {
    "Bristol": (
        "Larkspur Harbourside",
        "Unit 4, Cooperage Yard, Bristol BS1 6QR",
        "08:00–19:00",
        "09:00–17:30",
        "10:00–16:00",
    ),
    "Leeds": ("Larkspur Holbeck", "27 Tannery Row, Leeds LS11 9BX", "08:00–18:30", "09:00–17:30", "closed"),
    "Manchester": (
        "Larkspur Ancoats",
        "Arch 12, Viaduct Street, Manchester M4 6FE",
        "08:00–19:00",
        "09:00–17:30",
        "10:00–16:00",
    ),
}

# name -> (fact as the pages and the answers write it, the page that states it)
FACTS = {
    "price_commuter": ("£24 a month", "plans-and-prices.md"),
    "price_commuter_plus": ("£32 a month", "plans-and-prices.md"),
    "price_e_ride": ("£69 a month", "plans-and-prices.md"),
    "price_cargo": ("£119 a month", "plans-and-prices.md"),
    "price_kids": ("£12 a month", "plans-and-prices.md"),
    "setup_fee": ("£25 delivery and setup fee", "getting-started.md"),
    "annual": ("10 months and ride for 12", "discounts.md"),
    "student": ("15% off Commuter and E-Ride", "discounts.md"),
    "student_commuter": ("£20.40 a month", "discounts.md"),
    "student_e_ride": ("£58.65 a month", "discounts.md"),
    "referral": ("you both get £20", "discounts.md"),
    "min_term": ("minimum term of 3 months", "cancelling.md"),
    "notice": ("14 days' notice", "cancelling.md"),
    "early_fee": ("50% of the remaining months", "cancelling.md"),
    "pause_length": ("2 to 8 weeks", "pausing.md"),
    "pause_notice": ("at least 3 days before your next billing date", "pausing.md"),
    "retry": ("retry the payment after 3 days", "billing-and-payments.md"),
    "late_fee": ("£10 late fee", "billing-and-payments.md"),
    "deposit": ("£150 refundable deposit", "deposits.md"),
    "deposit_return": ("within 10 working days", "deposits.md"),
    "charger": ("£59", "returning-your-bike.md"),
    "battery_key": ("£15 per key", "returning-your-bike.md"),
    "damage_cap": ("capped at £150", "fixfast-repairs.md"),
    "fixfast": ("within 48 hours", "fixfast-repairs.md"),
    "size_swap": ("within the first 30 days", "frame-sizes.md"),
    "redelivery": ("£15 redelivery fee", "delivery.md"),
    "slots": ("Tuesday to Saturday, in 2-hour slots between 08:00 and 20:00", "delivery.md"),
    "police": ("within 24 hours", "theft.md"),
    "replacement": ("within 5 working days", "theft.md"),
    "care_plus": ("£5 a month", "care-plus.md"),
    "care_theft": ("£50 on every plan", "care-plus.md"),
    "care_wait": ("7-day wait", "care-plus.md"),
    "range": ("60 to 90 km", "e-ride-battery.md"),
    "charge_time": ("about 4.5 hours", "e-ride-battery.md"),
    "battery_storage": ("between 20% and 80%", "e-ride-battery.md"),
    "box_load": ("up to 80 kg", "cargo-bike.md"),
    "total_load": ("under 200 kg", "cargo-bike.md"),
    "kids_swap": ("up to once every 3 months", "kids-grow.md"),
    "service_area": ("within 10 miles", "service-area.html"),
    "chat_hours": ("08:00–20:00 every day", "contact-us.md"),
    "data_delete": ("within 30 days", "privacy-and-data.md"),
    "gps": ("14 days overdue", "privacy-and-data.md"),
    "recall_serials": ("VT24-08", "safety-notice-volt-brake-hose.md"),
    "recall_deadline": ("31 July 2026", "safety-notice-volt-brake-hose.md"),
    "business": ("10% off", "larkspur-for-business.md"),
    "business_min": ("Minimum 5 bikes", "larkspur-for-business.md"),
    "shop_free": ("free on orders over £50", "shop-orders-and-returns.html"),
    "shop_fee": ("£4.95", "shop-orders-and-returns.html"),
    "shop_returns": ("within 30 days of delivery", "shop-orders-and-returns.html"),
    "gift_valid": ("valid for 12 months", "gift-subscriptions.md"),
    "assist": ("25 km/h", "rider-requirements.txt"),
    "eapc_age": ("14 or over", "rider-requirements.txt"),
    "rider_weight": ("120 kg", "rider-requirements.txt"),
    "bank_holiday": ("open 10:00–16:00", "holiday-opening-hours.html"),
}

# walk-in service -> price, from repair-price-list.html
REPAIRS = {
    "Safety check": "£15",
    "Tune-Up": "£55",
    "Full Overhaul": "£110",
    "E-bike Service": "£129",
}

# accessory -> (SKU, price), from shop-accessories.html
SHOP = {
    "D-lock": ("LK-LOCK-D01", "£39"),
    "chain lock": ("LK-LOCK-CH12", "£55"),
    "USB light set": ("LK-LIGHT-SET2", "£29"),
    "20-litre pannier": ("LK-PAN-20", "£45"),
    "rear child seat": ("LK-KIDSEAT-R", "£89"),
    "rain cape": ("LK-RAINCAPE", "£35"),
    "mini pump": ("LK-PUMP-MINI", "£18"),
    "spare battery": ("LK-BATT-500", "£449"),
    "kids' helmet": ("LK-HELM-KIDS", "£29"),
}


def fact(name: str) -> str:
    """Return a fact as the pages word it."""
    return FACTS[name][0]


def money(amount: float) -> str:
    """£24, £34.50: whole pounds without pence, as the pages write prices."""
    return f"£{amount:,.0f}" if amount == int(amount) else f"£{amount:,.2f}"


def size_for(height_cm: int) -> str | None:
    """Return the frame size (S, M or L) the chart of frame-sizes.md gives for a height in cm; None outside it."""
    if 155 <= height_cm < 168:
        return "S"
    if 168 <= height_cm < 180:
        return "M"
    if 180 <= height_cm <= 193:
        return "L"
    return None
