"""Larkspur's answers about the bikes, repairs, workshops and the shop: (summary variants, numbered steps) per context."""

from __future__ import annotations

from facts import EBIKES, REPAIRS, SHOP, WORKSHOPS, fact, size_for

f = fact  # answers quote facts inline: f("range") -> "60 to 90 km"


def size_reply(c):
    size = size_for(c["height"])
    if size is None:
        return (
            [
                "You're just outside our standard size chart, but we can usually still fit you.",
                "We may need a small change to fit you well.",
            ],
            [
                "Our frames fit riders from 155 cm to 193 cm (S, M and L).",
                "Tell us your inside leg here in chat, and we'll check whether a shorter stem or longer seat post works.",
                "Or come to a workshop for a free test ride before you order.",
                f"If the size isn't right after delivery, we swap it free {f('size_swap')}.",
            ],
        )
    return (
        [f"At {c['height']} cm, size {size} is the one for you.", f"For {c['height']} cm we recommend size {size}."],
        [
            "Our chart: S fits 155–168 cm, M fits 168–180 cm, L fits 180–193 cm.",
            f"At {c['height']} cm that's size {size}.",
            "Between sizes? Smaller feels more upright and relaxed; larger suits long rides.",
            f"If it doesn't feel right, we swap it free {f('size_swap')} (Bike > Change size).",
        ],
    )


def size_slots(rng, c):
    cm = rng.choice([152, 158, 161, 163, 165, 170, 172, 174, 175, 177, 178, 182, 185, 188, 190, 196])
    c["height"] = cm
    inches = round(cm / 2.54)
    c["height_said"] = rng.choice(
        [f"{cm}cm", f"{cm} cm", f"{inches // 12}'{inches % 12}\"", f"{inches // 12} foot {inches % 12}"]
    )
    c["height"] = round(int(inches) * 2.54) if "'" in c["height_said"] or "foot" in c["height_said"] else cm


def swap_reply(c):
    early = c["days_in"] <= 30
    return (
        [
            (
                "You're within the first 30 days, so the swap is free."
                if early
                else "We can swap the size; after the first 30 days there's a small fee."
            ),
            "Swapping to another size is done in one visit.",
        ],
        [
            "Open the app and go to Bike > Change size.",
            "Pick the new size and a slot: we bring the new bike and take the old one at the same visit.",
            (
                f"Size swaps are free {f('size_swap')}, and you're on day {c['days_in']}."
                if early
                else f"Swaps are free {f('size_swap')}; you're on day {c['days_in']}, so the swap costs £25."
            ),
            "Move your own accessories across before the rider arrives.",
        ],
    )


def swap_slots(rng, c):
    c["days_in"] = rng.choice([4, 9, 12, 17, 23, 28, 41, 60])
    c["days_said"] = {
        4: "4 days",
        9: "just over a week",
        12: "12 days",
        17: "a couple of weeks",
        23: "about three weeks",
        28: "nearly 4 weeks",
        41: "six weeks or so",
        60: "two months",
    }[c["days_in"]]


def fault_reply(c):
    return (
        [
            f"Sorry about the {c['fault_short']}: that's covered by our FixFast promise.",
            "That's a normal-wear repair, so it's free under FixFast.",
        ],
        [
            "In the app, go to Bike > Report a problem and pick the fault (a photo helps).",
            "Choose a mobile mechanic at home or work, or bring the bike to any workshop.",
            f"We repair it or bring a replacement bike {f('fixfast')}, Monday to Saturday.",
            "If the brakes or steering feel unsafe, stop riding and choose Unsafe to ride so we come the same day.",
        ],
    )


def fault_slots(rng, c):
    c["fault"], c["fault_short"] = rng.choice(
        [
            ("the gears keep slipping when I push hard", "slipping gears"),
            ("the back brake squeals like crazy", "squealing brake"),
            ("the chain fell off twice on the way in", "chain coming off"),
            ("there's a horrible creak from the pedals", "creaking pedals"),
            ("the front light just died", "front light"),
            ("the back wheel has a wobble", "wobbly wheel"),
            ("the bell snapped off", "broken bell"),
            ("the kickstand won't stay up", "kickstand"),
        ]
    )


def puncture_reply(c):
    free = c["callout"] == "free"
    return (
        ["Flat tyres happen; puncture repairs are always free for subscribers.", "Let's get that puncture sorted."],
        [
            "Bring the bike to any workshop: puncture repairs are done while you wait, usually in 15 minutes.",
            (
                "Or book a mobile callout in Bike > Report a problem > Flat tyre: callouts are free on "
                + c["plan"]
                + "."
                if free
                else "Or book a mobile callout in Bike > Report a problem > Flat tyre: on "
                + c["plan"]
                + " a callout costs £15."
            ),
            (
                "Don't ride an e-bike on a flat: walk it, so the rim doesn't damage the wheel."
                if c["plan"] in EBIKES
                else "If you'd rather fix it yourself, our mini pump (LK-PUMP-MINI, £18) fits every Larkspur valve."
            ),
            "Check the pressure every two weeks; it's printed on the side of the tyre.",
        ],
    )


def theft_reply(c):
    excess = c["excess"]
    care = "" if c["plan"] == "Kids Grow" else " With Care+ it would be £50."
    return (
        [
            "I'm sorry your bike was stolen; here's what to do right now.",
            "Sorry to hear that. Acting quickly keeps your excess low.",
        ],
        [
            f"Report it to the police {f('police')} and get a crime reference number.",
            "Tell us within 48 hours in the app under Bike > Report theft, with the crime reference number.",
            f"If it was locked to something solid with an approved lock, the theft excess on {c['plan']} is {excess}.{care}",
            f"Once the excess is paid, we deliver a replacement {f('replacement')}."
            + (" Your bike's GPS tracker helps the police find it." if c["plan"] in EBIKES else ""),
        ],
    )


def theft_follow(c):
    return (
        ["If the bike is found, you get the excess back."],
        [
            "If the police or our tracking recover it within 30 days, we refund the excess.",
            "We only deduct repair costs for damage caused during the theft.",
            "Your replacement bike stays with you either way, so you keep riding.",
        ],
    )


def care_reply(c):
    return (
        [
            f"Care+ costs {f('care_plus')} and covers accidental damage.",
            "Care+ is our add-on for accidents and a lower theft excess.",
        ],
        [
            f"It costs {f('care_plus')} on any plan.",
            f"Accidental damage repairs are free; without it they're charged at labour rates, {f('damage_cap')}.",
            f"Your theft excess drops to {f('care_theft')} (or the plan's own, if lower).",
            f"Add it in Account > Subscription > Add-ons. There's a {f('care_wait')} before accident claims, so it can't cover a past accident.",
        ],
    )


def damage_reply(c):
    return (
        [
            "Sorry about the accident; I hope you're OK. Here's how the repair works.",
            "Crash damage is repaired quickly; what you pay depends on Care+.",
        ],
        [
            "Report it in the app under Bike > Report a problem and tick Accidental damage.",
            f"We repair or replace the bike {f('fixfast')}, as with any fault.",
            f"With Care+ the repair is free; without Care+ it's charged at workshop labour rates, {f('damage_cap')}.",
            "If you weren't covered, adding Care+ now won't cover this accident, but it will cover future ones after 7 days.",
        ],
    )


def lock_reply(c):
    haul = c["plan"] == "Cargo"
    return (
        [
            "A Sold Secure Gold lock, used well, keeps your bike and your theft excess safe.",
            "Here's how to lock up so the theft excess applies.",
        ],
        [
            (
                "Use our chain lock LK-LOCK-CH12 (£55): it fits round the Haul's thick frame."
                if haul
                else "Use a Sold Secure Gold or Diamond lock, such as our D-lock LK-LOCK-D01 (£39)."
            ),
            "Lock the frame and rear wheel to something that can't be moved, like a Sheffield stand.",
            "Keep the lock off the ground, and take the lights and any battery key with you.",
            "Cable locks on their own aren't approved: they can be cut in seconds.",
        ],
    )


def battery_reply(c):
    return (
        [
            f"The 500 Wh battery gives {f('range')} and takes {f('charge_time')} to charge fully.",
            "Here's what to expect from the battery and how to charge it.",
        ],
        [
            f"Range is {f('range')}: about 90 km in Eco, 75 km in Tour and 60 km in Boost (less in winter).",
            f"A full charge with the LK-CHG-4A charger takes {f('charge_time')}; 20% to 80% takes about 2.5 hours.",
            "Plug the charger into the mains first, then the battery, and charge indoors on a hard surface.",
            f"If you won't ride for a while, store it {f('battery_storage')} charge, and don't charge below 0 °C.",
        ],
    )


def code_reply(c):
    code, what, steps = c["code"]
    return (
        [
            f"{code} means {what}; it usually clears in a minute.",
            f"{code} is the display telling you about the {what}.",
        ],
        steps
        + [
            "If the code keeps coming back, report it in Bike > Report a problem: FixFast fixes it "
            + f("fixfast")
            + "."
        ],
    )


CODES = [
    (
        "E01",
        "the battery isn't detected",
        [
            "Turn the battery key to Open and lift the battery out.",
            "Check the contacts are clean and dry, push it back in until it clicks, then lock it.",
            "Restart: hold the power button for 5 seconds, wait 10 seconds, switch on.",
        ],
    ),
    (
        "E03",
        "a speed sensor problem",
        [
            "Find the small magnet on the rear wheel spokes.",
            "Make sure it sits opposite the sensor on the frame, 1–5 mm away; push it back if it has slipped.",
            "Restart: hold the power button for 5 seconds, wait 10 seconds, switch on.",
        ],
    ),
    (
        "E07",
        "the motor is too hot",
        [
            "Stop, switch the bike off and wait 15 minutes.",
            "Ride on in Eco or Tour rather than Boost, especially up long climbs with a load.",
            "Nothing is broken: the motor is protecting itself.",
        ],
    ),
    (
        "E09",
        "the battery is too cold or too hot",
        [
            "Take the battery indoors and let it reach room temperature.",
            "Don't charge it below 0 °C.",
            "Restart the bike once the battery has warmed up or cooled down.",
        ],
    ),
    (
        "E10",
        "a communication error between display and motor",
        [
            "Restart once: hold the power button for 5 seconds, wait 10 seconds, switch on.",
            "Don't open the wiring or the display.",
            "If E10 returns, the bike needs a mechanic.",
        ],
    ),
]


def cargo_reply(c):
    return (
        [
            "The Haul is built for children and shopping, within a few limits.",
            "Yes, the Haul carries kids safely, up to two at a time.",
        ],
        [
            "Up to two children aged 1 to 6 ride on the bench, each in a five-point harness.",
            f"The box carries {f('box_load')}, and bike plus rider plus load must stay {f('total_load')}.",
            "Children wear helmets; we lend child helmets and a baby seat adapter free from any workshop.",
            "The rider must be 18 or over; book a free 45-minute cargo bike lesson in Bike > Lessons.",
        ],
    )


def kids_reply(c):
    return (
        [
            "Kids Grow swaps are free when your child outgrows the bike.",
            f"Moving up a size is free on Kids Grow, {f('kids_swap')}.",
        ],
        [
            "In the app, open Bike > Change size on the Kids Grow subscription.",
            f"Pick the next wheel size: {c['next_wheel']} suits {c['next_age']}.",
            "We bring the new Sprout and take the old one in the same visit, with no delivery fee.",
            f"Swaps are free {f('kids_swap')}; you can also swap at a workshop with your child there.",
        ],
    )


def kids_slots(rng, c):
    c["age"], c["next_wheel"], c["next_age"] = rng.choice(
        [
            ("five", "16 inch", "ages 5–7"),
            ("six", "16 inch", "ages 5–7"),
            ("seven", "20 inch", "ages 7–9"),
            ("eight", "20 inch", "ages 7–9"),
            ("nine", "24 inch", "ages 9–11"),
            ("ten", "24 inch", "ages 9–11"),
        ]
    )
    c["kid"] = rng.choice(["my son", "my daughter", "our eldest", "our little one", "my kid", "my boy", "my girl"])


def hours_reply(c):
    city, (ws, address, week, sat, sun) = c["city"], WORKSHOPS[c["city"]]
    return (
        [f"{ws} is at {address}.", f"Here are the opening hours for {ws} in {city}."],
        [
            f"Monday to Friday: {week}.",
            f"Saturday: {sat}.",
            f"Sunday: {'closed' if sun == 'closed' else sun}."
            + (" Bristol and Manchester are open on Sundays." if sun == "closed" else ""),
            f"On bank holidays all workshops {f('bank_holiday')}; weekdays 11:00–15:00 are quietest for a while-you-wait repair.",
        ],
    )


def walkin_reply(c):
    service = c["service"]
    return (
        [
            f"Yes, we repair any bike; {c['a_service']} costs {REPAIRS[service]}.",
            f"{c['a_service'][0].upper()}{c['a_service'][1:]} at our workshops is {REPAIRS[service]}, VAT included.",
        ],
        [
            f"{service}: {REPAIRS[service]}; parts are extra unless stated.",
            (
                "It's done while you wait, usually in 15–20 minutes."
                if service == "Safety check"
                else "Drop the bike off before 10:00 and it's usually ready the same day."
                if service == "Tune-Up"
                else "It takes 2 working days."
            ),
            f"Walk in to {c['ws']} ({c['ws_address']}) or book in the app under Workshop > Book a repair.",
            "We always quote before starting work that needs more than £25 in parts.",
        ],
    )


def walkin_slots(rng, c):
    c["other_bike"] = rng.choice(
        [
            "my old Raleigh",
            "a second-hand road bike",
            "my partner's hybrid",
            "an old mountain bike",
            "my own e-bike",
            "my vintage Peugeot",
            "a folding bike",
        ]
    )
    ebike = c["other_bike"] == "my own e-bike"
    c["service"] = "E-bike Service" if ebike else rng.choice([s for s in REPAIRS if s != "E-bike Service"])
    c["a_service"] = ("an " if c["service"][0] in "AEIOU" else "a ") + c["service"]


def shop_reply(c):
    return (
        ["Unused items can come back within 30 days for a refund.", "Returning a shop order is free."],
        [
            f"You can return unused items in their original packaging {f('shop_returns')}.",
            "Start it in the app under Shop > My orders > Return for a free label, or bring it to a workshop.",
            "We refund the item within 5 working days of receiving it, to the card you paid with.",
            f"Delivery is {f('shop_free')} and {f('shop_fee')} below that; the delivery charge is refunded only for faulty or wrong items.",
        ],
    )


def sku_reply(c):
    item = c["item_wanted"]
    sku, price = SHOP[item]
    return (
        [f"Yes, we sell a {item}: {sku}, {price}.", f"The {item} you want is {sku}, at {price}."],
        [
            f"Buy it in the app under Shop, on the website, or at any workshop ({sku}, {price}).",
            "Orders by 14:00 on a working day are dispatched the same day.",
            f"Delivery is {f('shop_free')}, otherwise {f('shop_fee')}; collecting from a workshop is free.",
            "Fitting is free at a workshop, and the item is yours to keep when your subscription ends.",
        ],
    )


def sku_slots(rng, c):
    c["item_wanted"] = rng.choice(list(SHOP))


def recall_reply(c):
    return (
        [
            "Some 2024 Volts need a free front brake hose replacement; here's how to check yours.",
            "Thanks for checking about the brake hose notice.",
        ],
        [
            "Find your serial number in the app under Bike > Details, or on the plate under the frame.",
            f"Affected serials start {f('recall_serials')}, VT24-09, VT24-10 or VT24-11.",
            "If yours is one, book the free replacement in Bike > Safety notice or walk into a workshop: it takes about 20 minutes.",
            f"Please book it by {f('recall_deadline')}, and stop riding if the front brake ever feels soft.",
        ],
    )


def winter_reply(c):
    return (
        [
            "A few habits keep winter riding safe, and your winter check is free.",
            "Winter riding is fine with a little preparation.",
        ],
        [
            "Lights on day and night from November to February; our USB light set LK-LIGHT-SET2 is £29.",
            "Brake earlier and more gently in the wet, and watch for metal covers, paint and wet leaves.",
            "Rinse off road salt with plain water weekly (no pressure washer) and re-oil the chain.",
            "Book a free winter check at a workshop in Bike > Book a safety check, from 1 November to 28 February.",
        ],
    )


def riders_reply(c):
    who, verdict = c["rider"]
    return (
        [verdict, "Here are the rider rules for our bikes."],
        [
            f"E-bike riders must be {f('eapc_age')}: UK law sets 14 as the minimum age for e-bikes.",
            f"The Metro 7 and the Volt take riders up to {f('rider_weight')}, including luggage.",
            "The Haul's rider must be 18 or over.",
            f"Motors assist only while you pedal, up to {f('assist')}; no licence or insurance is needed.",
        ],
    )


def riders_slots(rng, c):
    c["rider"] = rng.choice(
        [
            ("my 13 year old", "A 13-year-old can't ride the Volt yet: e-bike riders must be 14 or over."),
            ("my 15 year old son", "Yes, a 15-year-old can ride the Volt, with your permission as account holder."),
            ("my 16 year old daughter", "Yes, a 16-year-old can ride the Volt, but not the Haul."),
            ("my 12 year old", "At 12, the Volt isn't allowed yet: e-bike riders must be 14 or over."),
            ("my partner", "Yes, anyone you allow can ride it, within the rider limits."),
        ]
    )


def care_basics_reply(c):
    return (
        ["Most everyday adjustments are fine to do yourself.", "Here's what you can safely do at home."],
        [
            "Set the saddle so your leg is almost straight with your heel on the pedal at its lowest point.",
            "Pump the tyres to the pressure printed on the tyre wall, and oil the chain every couple of weeks.",
            "Please don't fit your own parts or open the battery: that voids FixFast for that fault.",
            "For anything else, any workshop will adjust it free for subscribers.",
        ],
    )


def battery_follow(c):
    return (
        ["Yes, you can buy a spare battery for longer days."],
        [
            "The spare 500 Wh battery is LK-BATT-500 and costs £449.",
            "It uses the same LK-CHG-4A charger and fits both the Volt and the Haul.",
            "It's yours to keep when your subscription ends.",
        ],
    )


def care_follow(c):
    return (
        ["You can switch Care+ off whenever you like."],
        [
            "Go to Account > Subscription > Add-ons and switch Care+ off.",
            "It stops at your next billing date, so you're covered until then.",
            "If you add it again later, the 7-day wait for accident claims starts again.",
        ],
    )


def fault_follow(c):
    return (
        ["The mechanic can come to your home or your workplace."],
        [
            "Choose Mobile mechanic when you report the problem in the app, and pick a 2-hour slot.",
            "Give the address where the bike will be: home or workplace both work.",
            "If it can't be fixed on the spot, the mechanic swaps it for a replacement of the same model and size.",
        ],
    )


def hours_follow(c):
    return (
        ["No booking needed: just walk in."],
        [
            "Subscribers can walk in for repairs, safety checks, size swaps and test rides without booking.",
            "Weekdays 11:00–15:00 are the quietest for a while-you-wait repair.",
            "For a Tune-Up on a non-Larkspur bike, drop it off before 10:00 to get it back the same day.",
        ],
    )
