"""Larkspur's answers about subscriptions, billing and accounts: (summary variants, numbered steps) per context."""

from __future__ import annotations

from facts import EBIKES, PLANS, WORKSHOPS, fact, money

f = fact  # answers quote facts inline: f("range") -> "60 to 90 km"


def plans_reply(c):
    return (
        [
            "Here are our five plans and what they cost each month.",
            "All our plans include maintenance, FixFast repairs and a yearly safety check.",
        ],
        [
            f"Commuter (Metro 7 city bike): {f('price_commuter')}.",
            f"Commuter Plus (Metro 7 with D-lock, lights and rack): {f('price_commuter_plus')}.",
            f"E-Ride (Volt e-bike): {f('price_e_ride')}, plus a {f('deposit')}.",
            f"Cargo (Haul electric cargo bike): {f('price_cargo')}, plus a {f('deposit')}.",
            f"Kids Grow (Sprout, ages 4 to 11): {f('price_kids')}.",
            f"There is a one-off {f('setup_fee')}, waived if you prepay annually.",
        ],
    )


def plans_follow(c):
    return (
        ["Annual prepay is the cheapest way to ride."],
        [
            f"Choose annual prepay at sign-up: you {f('annual')}.",
            "It also waives the £25 delivery and setup fee.",
            "You can switch an existing subscription in Account > Billing > Switch to annual.",
        ],
    )


def signup_reply(c):
    return (
        [
            "You can sign up online or in the app in a few minutes.",
            "Signing up takes about five minutes, and we deliver the bike to your door.",
        ],
        [
            "Check your postcode on the sign-up page: we cover addresses "
            + f("service_area")
            + " of one of our workshops.",
            "Choose a plan and tell us your height so we can suggest a frame size.",
            "Pick a delivery slot: we deliver " + f("slots") + ".",
            "Pay the first month plus the one-off " + f("setup_fee") + " (and the £150 deposit for E-Ride or Cargo).",
            "You need to be 18 or over and have a UK card or bank account.",
        ],
    )


def cancel_reply(c):
    if c["months_in"] >= 3:
        return (
            [
                "You're past the minimum term, so you can cancel with no fee.",
                "Cancelling after your first 3 months is free.",
            ],
            [
                "Open the app and go to Account > Subscription > End subscription.",
                f"Choose a collection date at least 14 days from today: we need {f('notice')}.",
                "Have the bike, lock, keys and any charger ready for the collection (or drop it at a workshop).",
                "We refund any days you've paid for beyond the collection date."
                + (f" Your deposit comes back {f('deposit_return')} after the return check." if c["deposit"] else ""),
            ],
        )
    remaining = 3 - c["months_in"]
    fee = money(c["price"] * remaining * 0.5)
    return (
        [
            f"You can cancel now, but as you're inside the {f('min_term')} an early termination fee applies.",
            f"Cancelling inside the first 3 months costs {f('early_fee')}.",
        ],
        [
            f"You've had the bike for {c['months_in']} month{'s' if c['months_in'] > 1 else ''}, so {remaining} month{'s' if remaining > 1 else ''} of the minimum term remain{'s' if remaining == 1 else ''}.",
            f"The fee is {f('early_fee')}: 50% of {money(c['price'] * remaining)}, which is {fee}.",
            "We waive it if you're moving outside our service area (send proof of address) or the same fault has come back three times.",
            "To go ahead, use Account > Subscription > End subscription and pick a collection date.",
        ],
    )


def cancel_slots(rng, c):
    c["months_in"] = rng.choice([1, 2, 2, 4, 5, 7, 10, 14])
    c["ridden"] = {
        1: "about a month",
        2: "two months",
        4: "four months",
        5: "five months",
        7: "seven months",
        10: "ten months",
        14: "over a year",
    }[c["months_in"]]


def pause_reply(c):
    return (
        [
            "You can pause instead of cancelling, and you pay nothing while paused.",
            "A pause is the easiest option here, and it's free.",
        ],
        [
            f"A pause lasts {f('pause_length')}, up to 8 weeks in total in any 12-month period.",
            f"Request it {f('pause_notice')}, in Account > Subscription > Pause.",
            "Pick a start and restart date, then a collection and a redelivery slot.",
            (
                "We collect the bike and store it free"
                if c["plan"] in EBIKES
                else "We collect and store the bike free, or you can keep it at home"
            )
            + "; your billing date moves back by the length of the pause.",
        ],
    )


def pause_slots(rng, c):
    c["weeks"] = rng.choice(["three weeks", "a month", "five weeks", "six weeks", "about 4 weeks", "7 weeks"])
    c["why"] = rng.choice(
        [
            "I'm travelling",
            "I've broken my wrist",
            "I'm working abroad",
            "we're away for the summer",
            "I'm off on a long trip",
            "I've got surgery coming up",
        ]
    )


def pause_follow(c):
    return (
        ["If you need longer than 8 weeks, cancelling is the better fit."],
        [
            "Pauses can add up to 8 weeks in any 12-month period, and you can extend one in the app within that.",
            f"Past the minimum term you can cancel with {f('notice')} and no fee.",
            "You're welcome to sign up again when you're back; a new £25 delivery and setup fee would apply.",
        ],
    )


def billing_reply(c):
    return (
        ["Your payment didn't go through, but it's easy to sort out.", "A failed payment is simple to fix in the app."],
        [
            f"We {f('retry')}, so make sure the card has funds or update it before then.",
            "To pay now, go to Account > Billing > Pay now: the hold lifts immediately.",
            f"If the retry fails too, a {f('late_fee')} is added and the account goes on hold.",
            "If it's still unpaid 14 days after the billing date, we arrange to collect the bike.",
        ],
    )


def payment_follow(c):
    return (
        ["Subscriptions can only be paid by card or Direct Debit."],
        [
            "Pay the balance by card in Account > Billing > Pay now.",
            "Or set up Direct Debit from a UK bank account on the same screen.",
            "We can't take bank transfers, cash or cheques for subscriptions; workshop repairs can be paid by card or contactless.",
        ],
    )


def card_reply(c):
    return (
        [
            "You can change the card yourself in the app in under a minute.",
            "Updating your payment card takes a few taps.",
        ],
        [
            "Open the app and go to Account > Billing > Payment method.",
            "Tap Replace card and enter the new card details.",
            "Your next payment comes from the new card, and the old one is removed straight away.",
            "You can also switch to Direct Debit from a UK bank account on the same screen.",
        ],
    )


def deposit_reply(c):
    return (
        [
            f"Your {f('deposit')} comes back after we've checked the bike.",
            "The deposit is refunded once the bike has passed its return check.",
        ],
        [
            "We check returned bikes within 5 working days.",
            f"The deposit is refunded {f('deposit_return')} after that check, to the card or account you paid with.",
            f"Missing items are deducted: the charger is {f('charger')} and battery keys {f('battery_key')}.",
            "If anything is deducted, we email you an itemised list first.",
        ],
    )


def student_reply(c):
    return (
        [f"Students get {f('student')}.", f"Yes, there's a student discount: {f('student')}."],
        [
            "Verify once in the app with your student ID or university email address.",
            f"Commuter then costs {f('student_commuter')} and E-Ride {f('student_e_ride')}.",
            "It lasts while you're a student; we ask you to re-verify every September.",
            "It can't be combined with annual prepay, and it doesn't apply to deposits or Care+.",
        ],
    )


def referral_reply(c):
    return (
        ["Referring a friend gets you both credit.", f"When a friend joins with your code, {f('referral')} credit."],
        [
            "Find your code in the app under Account > Refer a friend and share it.",
            f"When their first payment clears, {f('referral')} credit.",
            "Credit is used automatically on your next payment and expires after 12 months.",
            "There's no limit on how many friends you refer.",
        ],
    )


def delivery_reply(c):
    return (
        ["You can move your delivery slot in the app.", "Changing the slot is easy if it's more than 24 hours away."],
        [
            "Open the app and go to Bike > Delivery.",
            f"Pick a new slot: we deliver {f('slots')}.",
            "Changes are possible up to 24 hours before the slot starts; inside that, message us on live chat.",
            f"If nobody is home at the time, the rider waits 10 minutes and a {f('redelivery')} applies to the next attempt.",
        ],
    )


def delivery_follow(c):
    return (
        ["Stairs are no problem for most bikes."],
        [
            "Our riders carry bikes up to the third floor if there's no lift.",
            "Cargo bikes are delivered to ground level only, because the Haul weighs 42 kg.",
            "Allow about 20 minutes for the handover (30 for a Cargo bike).",
        ],
    )


def return_reply(c):
    kit = (
        "the battery, the charger and both battery keys"
        if c["plan"] in EBIKES
        else "the lock and its keys" + (", plus the D-lock and light set" if c["plan"] == "Commuter Plus" else "")
    )
    return (
        ["Collection at the end of your subscription is free.", "Handing the bike back is free and quick."],
        [
            "In the app, go to Account > Subscription > End subscription and pick a collection slot.",
            f"Have the bike ready with {kit}.",
            f"Or drop it at any workshop, such as {c['ws']} at {c['ws_address']}, and ask for a return receipt.",
            "Billing continues until the bike is back with us.",
        ],
    )


def missing_reply(c):
    item, price = c["missing"]
    return (
        [
            f"A missing {item} costs {price}, but you can get that back.",
            f"We charge {price} for a missing {item}, refunded if you find it.",
        ],
        [
            (
                f"Battery keys are {f('battery_key')}."
                if item == "battery key"
                else f"The charge for a missing {item} is {price}."
            ),
            "It comes off your deposit, or we invoice it if there's no deposit.",
            "If you find the item, bring it to a workshop within 30 days and we refund the charge.",
            "Normal wear, like scratches or worn tyres, is never charged.",
        ],
    )


def missing_slots(rng, c):
    c["missing"] = rng.choice([("charger", f("charger")), ("battery key", "£15"), ("D-lock", "£39")])
    c["item"] = c["missing"][0]


def move_reply(c):
    if c["dest"] in WORKSHOPS:
        return (
            [
                "Good news: moving between our cities is free and your plan stays the same.",
                f"We can transfer your subscription to {c['dest']} for free.",
            ],
            [
                "Update your address in the app under Account > Addresses.",
                "Message us on live chat with your moving date.",
                f"We collect the bike from your old address and deliver a serviced one of the same model and size in {c['dest']}, usually {f('replacement')}.",
                "Your plan, price, billing date and minimum term don't change.",
            ],
        )
    return (
        [
            f"We don't cover {c['dest']} yet, but ending the subscription when you move is straightforward.",
            f"Sorry, {c['dest']} is outside our service area; here's how to wrap things up.",
        ],
        [
            f"We only support bikes {f('service_area')} of a workshop, because FixFast needs one nearby.",
            "Cancel in the app and book a collection before you leave, or drop the bike at a workshop.",
            "Send proof of your new address and we waive the early termination fee if you're in the minimum term.",
            f"Any deposit comes back {f('deposit_return')} after the return check.",
        ],
    )


def move_slots(rng, c):
    c["dest"] = rng.choice(
        [d for d in ("Bristol", "Leeds", "Manchester") if d != c["city"]]
        + ["Glasgow", "Cardiff", "Norwich", "Brighton", "York"]
    )


def upgrade_reply(c):
    return (
        [
            f"You can upgrade to {c['target']} at any time, even in your first 3 months.",
            f"Switching to {c['target']} is one swap visit.",
        ],
        [
            "Go to Account > Subscription > Change plan and pick the new plan and size.",
            f"The new price ({c['target_price']}) starts on the day of the swap; your minimum term doesn't restart.",
            (
                "The £150 deposit is taken before the swap."
                if c["target"] in EBIKES
                else "There's no deposit and no delivery fee for the change."
            ),
            "Not sure yet? Take a free 30-minute test ride at any workshop first.",
        ],
    )


def upgrade_slots(rng, c):
    # E-Ride twice: the hills and long commutes people describe are what it is for
    options = [p for p in ("E-Ride", "E-Ride", "Cargo") if PLANS[p][0] > PLANS[c["plan"]][0]]
    c["target"] = rng.choice(options)
    c["target_price"] = f(f"price_{c['target'].lower().replace(' ', '_').replace('-', '_')}")


def login_reply(c):
    return (
        ["We use sign-in links instead of passwords; here's how to get one through.", "Let's get you signed in."],
        [
            "Check your spam or promotions folder: the link comes from a @larkspurcycles.co.uk address.",
            "Wait 2 minutes and tap Send again; only the newest link works, for 15 minutes.",
            "Open the link on the phone where you want to be signed in.",
            "Make sure it's the email address you signed up with; if it's changed, tell us here and we'll check.",
        ],
    )


def privacy_reply(c):
    return (
        [
            "We only read the GPS after a theft report, and you can delete your account at any time.",
            "Here's how tracking and account deletion work.",
        ],
        [
            f"The tracker in E-Ride and Cargo bikes is only read after a theft report or when a bike is {f('gps')}.",
            "We don't track rides or keep location history.",
            "To delete your account, end any subscriptions, then go to Account > Privacy > Delete my account.",
            f"We delete it {f('data_delete')}; billing records are kept for 6 years because UK tax law requires it.",
        ],
    )


def gift_reply(c):
    return (
        [
            "Gift subscriptions are sold as codes in our web shop.",
            "A gift subscription is a lovely idea; here's how it works.",
        ],
        [
            "Choose a gift: 3-month Commuter £72, 6-month Commuter £144, 3-month E-Ride £207 or 3-month Kids Grow £36.",
            "Pick an email delivery date or print the card; the code looks like LKG-XXXX-XXXX.",
            f"The rider redeems it online or in the app; codes are {f('gift_valid')} from purchase.",
            "There's no delivery fee; for an E-Ride, the rider pays the £150 deposit when redeeming.",
        ],
    )


def business_reply(c):
    return (
        ["Larkspur for Business covers teams, cargo deliveries and Cycle to Work.", "We'd love to set your team up."],
        [
            f"{f('business_min')}, any mix of plans except Kids Grow, at {f('business')} each bike.",
            "You get one monthly invoice with your VAT number; the minimum term is 6 months per bike.",
            "Paid delivery work on a Haul needs Business Cargo, which includes commercial cover.",
            "Fill in the business enquiry form on our website and we send a quote within 2 working days.",
        ],
    )


def area_reply(c):
    return (
        [
            f"We deliver and repair {f('service_area')} of one of our workshops.",
            "Whether we cover you depends on your postcode.",
        ],
        [
            f"Our area is everything {f('service_area')} of a workshop in Bristol, Leeds or Manchester.",
            "Enter your postcode on the sign-up page to check your exact address.",
            "Just outside? You can still subscribe if you collect from a workshop and bring the bike in for repairs.",
            "Tell us your postcode here: we add districts when enough riders ask.",
        ],
    )


def scam_reply(c):
    return (
        [
            "That message isn't from us: please don't reply to it or click anything.",
            "That sounds like a scam; Larkspur never asks for card details like that.",
        ],
        [
            "We never ask for your full card number, security code or a bank transfer.",
            "Don't click links or reply with personal details.",
            "Forward it to us here in chat so our team can warn other riders.",
            "If you've already shared card details, call your bank now and ask them to block the card.",
        ],
    )


def complaint_reply(c):
    return (
        [
            "I'm sorry we've let you down; I've logged this as a complaint.",
            "Thank you for telling us; I've raised this as a formal complaint.",
        ],
        [
            "We acknowledge every complaint within 2 working days and name the person handling it.",
            "We aim to resolve it within 10 working days, and tell you why if it takes longer.",
            "If you're not happy with the answer, ask for a review by our customer experience manager.",
            "You'll get a final response within 8 weeks of your first complaint.",
        ],
    )
