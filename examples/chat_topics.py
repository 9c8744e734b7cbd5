"""What Larkspur's customers ask, topic by topic; the answers are in answers_account.py and answers_bike.py.

A topic has situations and questions that combine freely (any situation reads naturally with any question),
short one-liners that stand alone, the answer (summary variants and numbered steps, built from `facts.py`)
and optional follow-up turns. `{...}` fields are filled per conversation by make_examples.py: plan, plan_said,
bike, bike_said, price, city, ws (workshop), ws_address, when, place, plus each topic's own `slots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Callable

import answers_account as account
import answers_bike as bike
from facts import EBIKES, PLANS

ALL = tuple(PLANS)
ADULT = ("Commuter", "Commuter Plus", "E-Ride", "Cargo")


@dataclass
class Topic:
    name: str
    pages: tuple[str, ...]
    situations: list[str]
    asks: list[str]
    shorts: list[str]
    reply: Callable[[dict], tuple[list[str], list[str]]]  # context -> (summary variants, numbered steps)
    plans: tuple[str, ...] = ALL
    slots: Callable[[Random, dict], None] | None = None
    followups: list[tuple[list[str], Callable[[dict], tuple[list[str], list[str]]]]] = field(default_factory=list)
    count: int = 9


TOPICS = [
    Topic(
        "plans_prices",
        ("plans-and-prices.md",),
        count=10,
        situations=[
            "I'm thinking about getting a bike from you instead of buying one.",
            "just moved to {city} and my old bike didn't survive the move.",
            "My partner and I are comparing bike subscriptions for getting to work.",
            "A friend at work has one of your bikes and keeps going on about it.",
            "I've been getting the bus every day and it's costing me a fortune.",
            "we're trying to work out if a cargo bike or a normal one makes more sense for us.",
        ],
        asks=[
            "What plans do you have and how much are they?",
            "Can you give me a rundown of the prices?",
            "how much does each plan cost per month, and are there extra fees?",
            "What's the difference between your plans, price-wise?",
            "Could you list the monthly prices for everything you offer?",
            "what would i actually pay each month?",
        ],
        shorts=["prices pls", "how much r ur bikes a month??", "What does a subscription cost?", "plans + prices?"],
        reply=account.plans_reply,
        followups=[
            (
                [
                    "Is there any way to get it cheaper if I pay upfront?",
                    "and if i pay for the whole year?",
                    "Any discount for paying yearly?",
                ],
                account.plans_follow,
            )
        ],
    ),
    Topic(
        "sign_up",
        ("getting-started.md", "delivery.md"),
        count=8,
        situations=[
            "I've decided to go for it after the test ride at {ws}.",
            "Moving into a new flat in {city} next week and want a bike ready.",
            "Never rented a bike like this before so I'm a bit lost.",
            "My employer doesn't do cycle to work, so I'm signing up myself.",
            "I tried to start on the website but got confused halfway.",
        ],
        asks=[
            "How do I sign up?",
            "What do I need to do to get started?",
            "what's the process from ordering to having the bike?",
            "Can you walk me through getting a bike delivered?",
            "What do I need to have ready to join?",
        ],
        shorts=["how do i join", "Sign up steps?", "how to get a bike from you"],
        reply=account.signup_reply,
    ),
    Topic(
        "cancel",
        ("cancelling.md",),
        plans=ALL,
        slots=account.cancel_slots,
        count=12,
        situations=[
            "I've had the {plan_said} for {ridden} now.",
            "So I've been on {plan} for {ridden} but I'm barely using it.",
            "Bought a bike of my own, and I've had yours for {ridden}.",
            "Money's tight at the moment. I've been subscribed for {ridden}.",
            "I've been riding the {bike_said} for {ridden} and it's been great, but I'm getting a company car.",
            "Work's gone fully remote, and I've had the {plan_said} for {ridden}.",
        ],
        asks=[
            "How do I cancel and will it cost me anything?",
            "Can I end the subscription? What's the fee?",
            "what's involved in cancelling?",
            "I'd like to stop. How does that work?",
            "Is there a charge for leaving now?",
            "how do i get out of it and what do i owe?",
        ],
        shorts=[],
        reply=account.cancel_reply,
    ),
    Topic(
        "pause",
        ("pausing.md",),
        slots=account.pause_slots,
        count=9,
        situations=[
            "{why} and won't be riding for {weeks}.",
            "Heads up: {why}, so the {bike_said} will sit unused for {weeks}.",
            "So {why}. I'll be off the bike for {weeks}.",
            "{why}, gone for {weeks} from next month.",
        ],
        asks=[
            "Can I pause rather than cancel?",
            "Do I have to keep paying while I'm not using it?",
            "is there a way to freeze the subscription?",
            "What are my options for that time?",
            "can you put my account on hold?",
        ],
        shorts=["can i pause my sub", "How does pausing work?", "pause for a few weeks possible?"],
        reply=account.pause_reply,
        followups=[
            (
                [
                    "What if I need longer than that?",
                    "and if the trip runs over 8 weeks?",
                    "Can it be longer than two months?",
                ],
                account.pause_follow,
            )
        ],
    ),
    Topic(
        "failed_payment",
        ("billing-and-payments.md",),
        count=9,
        situations=[
            "I got an email saying my payment failed.",
            "My bank blocked the payment to you by mistake.",
            "Just saw a failed payment notice in the app.",
            "My card expired last month and I forgot to update it.",
            "There wasn't enough in my account on payday, so the payment bounced.",
        ],
        asks=[
            "What happens now?",
            "Will you take the bike away?",
            "how do i fix this?",
            "Am I going to get charged extra?",
            "What should I do to sort it?",
        ],
        shorts=["payment failed?? help", "what happens if my payment fails", "missed payment, now what"],
        reply=account.billing_reply,
        followups=[
            (
                [
                    "Can I just pay by bank transfer?",
                    "can i pay cash at the workshop instead?",
                    "Is there another way to pay?",
                ],
                account.payment_follow,
            )
        ],
    ),
    Topic(
        "change_card",
        ("billing-and-payments.md",),
        count=7,
        situations=[
            "I've got a new bank card.",
            "My old card was lost so the bank sent a replacement.",
            "I want the subscription on my joint account instead of my personal card.",
            "Switching banks this month.",
        ],
        asks=[
            "How do I update the card you charge?",
            "Where do I change my payment details?",
            "can I change which card pays?",
            "What's the way to swap the payment method?",
        ],
        shorts=["change card details", "how to update payment card", "new card, where do i put it"],
        reply=account.card_reply,
    ),
    Topic(
        "deposit_refund",
        ("deposits.md",),
        plans=EBIKES,
        count=8,
        situations=[
            "I handed back my {bike_said} last week.",
            "The {plan_said} was collected on Friday.",
            "Dropped the {bike_said} at {ws} a few days ago.",
            "My subscription ended and the driver took the bike.",
        ],
        asks=[
            "When do I get the deposit back?",
            "How long until my £150 comes back?",
            "is anything taken off the deposit?",
            "Still waiting on my deposit, how long does it take?",
        ],
        shorts=["deposit refund when?", "where's my deposit", "how long for deposit refund"],
        reply=account.deposit_reply,
    ),
    Topic(
        "student",
        ("discounts.md",),
        count=7,
        situations=[
            "I'm starting a master's in {city} in September.",
            "I'm a second-year student at uni.",
            "Doing a PhD and living on a stipend.",
            "I'm a nursing student on placements all over town.",
        ],
        asks=[
            "Do you do a student discount?",
            "Is there anything cheaper for students?",
            "how much would the commuter be with a student discount?",
            "Any deals for students?",
        ],
        shorts=["student discount?", "do students get money off", "Student price for e-ride?"],
        reply=account.student_reply,
    ),
    Topic(
        "referral",
        ("discounts.md",),
        count=7,
        situations=[
            "Two people at work want to sign up after trying my bike.",
            "My sister is moving to {city} and wants a bike.",
            "I keep recommending you to friends.",
            "My flatmate has been borrowing my bike and wants her own.",
        ],
        asks=[
            "Is there a referral scheme?",
            "Do I get anything for referring them?",
            "how does refer a friend work?",
            "Can they use a code from me?",
        ],
        shorts=["referral code?", "refer a friend how", "do u do referrals"],
        reply=account.referral_reply,
    ),
    Topic(
        "delivery_slot",
        ("delivery.md",),
        count=8,
        situations=[
            "My bike's due to be delivered on {day} but I've been called into work.",
            "I booked the wrong delivery day by accident.",
            "Something's come up on the day of my delivery.",
            "I'll be at the hospital with my mum when the bike is meant to arrive.",
            "The delivery is booked for {day} morning but my train gets in late.",
        ],
        asks=[
            "Can I change the delivery slot?",
            "How do I move it to another day?",
            "is it possible to rearrange?",
            "What's the easiest way to reschedule?",
        ],
        shorts=["change delivery date", "reschedule delivery pls", "how to move my delivery slot"],
        reply=account.delivery_reply,
        followups=[
            (
                [
                    "I'm on the third floor, no lift. Is that ok?",
                    "Do you bring it upstairs?",
                    "my flat is up two flights of stairs, is that a problem?",
                ],
                account.delivery_follow,
            )
        ],
        slots=lambda rng, c: c.update(day=rng.choice(["Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"])),
    ),
    Topic(
        "return_bike",
        ("returning-your-bike.md", "workshops.html"),
        count=8,
        situations=[
            "My subscription ends at the end of the month.",
            "I've cancelled my {plan_said} and need to give the bike back.",
            "Leaving {city} soon, so the {bike_said} has to go back.",
            "Ended the plan in the app yesterday.",
        ],
        asks=[
            "How do I return the bike?",
            "What do I need to hand back?",
            "do you pick it up or do I bring it in?",
            "What's the return process?",
        ],
        shorts=["how to return bike", "returning my bike - how?", "bike return steps"],
        reply=account.return_reply,
    ),
    Topic(
        "missing_item",
        ("returning-your-bike.md", "deposits.md"),
        plans=EBIKES,
        slots=account.missing_slots,
        count=7,
        situations=[
            "I returned the {bike_said} but can't find the {item} anywhere.",
            "The {item} has vanished since we moved house.",
            "I think the {item} got thrown out during a clear-out.",
            "Handed the bike back this morning, minus the {item}.",
        ],
        asks=[
            "What will that cost me?",
            "Will it come off my deposit?",
            "what happens now?",
            "Is there a charge for that?",
        ],
        shorts=["lost the {item}, what do i pay", "missing {item} charge?"],
        reply=account.missing_reply,
    ),
    Topic(
        "frame_size",
        ("frame-sizes.md",),
        plans=("Commuter", "Commuter Plus", "E-Ride"),
        slots=bike.size_slots,
        count=10,
        situations=[
            "I'm {height_said}.",
            "I'm about {height_said} tall.",
            "For reference I'm {height_said}.",
            "I'm {height_said}, fairly long legs.",
        ],
        asks=[
            "Which frame size should I get?",
            "What size would fit me?",
            "S, M or L for me?",
            "which size do you recommend?",
            "Help me pick a size please.",
        ],
        shorts=[],
        reply=bike.size_reply,
    ),
    Topic(
        "size_swap",
        ("frame-sizes.md",),
        plans=("Commuter", "Commuter Plus", "E-Ride"),
        slots=bike.swap_slots,
        count=8,
        situations=[
            "The {bike_said} arrived {days_said} ago and it feels too big.",
            "I've had the bike {days_said} and my knees hurt; I think it's too small.",
            "Been riding {days_said} now but I'm stretched out too far.",
            "It's been {days_said} and the frame just doesn't feel right.",
        ],
        asks=[
            "Can I swap to a different size?",
            "Is it possible to change the frame size?",
            "will it cost anything to swap?",
            "How do I get a different size?",
        ],
        shorts=[],
        reply=bike.swap_reply,
    ),
    Topic(
        "fault_repair",
        ("fixfast-repairs.md",),
        plans=ADULT,
        slots=bike.fault_slots,
        count=12,
        situations=["{fault}.", "On my {bike_said}, {fault}.", "So {fault} since {since}.", "Since {since}, {fault}."],
        asks=[
            "Can someone fix it?",
            "How do I get this repaired?",
            "Is that covered?",
            "what do I do?",
            "Will I have to pay for that?",
            "how quickly can you sort it?",
        ],
        shorts=[],
        reply=bike.fault_reply,
        followups=[
            (
                [
                    "Could the mechanic meet me at work?",
                    "can the mechanic come to my office instead?",
                    "Can they fix it at work?",
                ],
                bike.fault_follow,
            )
        ],
    ),
    Topic(
        "puncture",
        ("punctures.md",),
        count=10,
        situations=[
            "Got a flat on the way to {place} {when}.",
            "My back tyre is completely flat.",
            "The front tyre went down overnight.",
            "Rode over glass near {place} and now the tyre's flat.",
            "I think I've got a puncture, the tyre is soft again.",
        ],
        asks=[
            "Can you fix it?",
            "Do I have to pay for a puncture?",
            "can someone come out to me?",
            "What's the quickest way to get it fixed?",
            "what should i do?",
        ],
        shorts=["flat tyre help", "puncture!!", "got a puncture, do u fix"],
        reply=bike.puncture_reply,
    ),
    Topic(
        "theft",
        ("theft.md",),
        count=12,
        situations=[
            "My {bike_said} was stolen from outside {place} {when}.",
            "Someone cut the lock and took my {bike_said} {when}.",
            "Came out of {place} and the {bike_said} was gone.",
            "The {bike_said} got nicked {when}, lock and all.",
            "My bike's been stolen from the rack at {place}.",
        ],
        asks=[
            "What do I do now?",
            "How much will this cost me?",
            "what happens with my subscription?",
            "Do I have to pay for it?",
            "What are the next steps?",
        ],
        shorts=["bike stolen what do i do", "my bike got stolen"],
        reply=bike.theft_reply,
        followups=[
            (
                ["And if the police find it?", "what if it turns up later?", "Do I get anything back if it's found?"],
                bike.theft_follow,
            )
        ],
    ),
    Topic(
        "care_plus",
        ("care-plus.md",),
        count=8,
        situations=[
            "Just signed up for the {plan_said}.",
            "I'm a bit clumsy and ride on busy roads.",
            "My last bike got knocked over by a van twice.",
            "Someone at {place} mentioned an add-on for damage.",
        ],
        asks=[
            "Is Care+ worth getting?",
            "What does Care+ cover?",
            "how much is the damage cover?",
            "Should I add Care+ and what does it cost?",
        ],
        shorts=["what is care+", "care plus price?", "Is care+ worth it"],
        reply=bike.care_reply,
        followups=[
            (
                [
                    "Can I cancel Care+ later if I don't need it?",
                    "and can I turn it off again?",
                    "Is it possible to drop it later?",
                ],
                bike.care_follow,
            )
        ],
    ),
    Topic(
        "accident_damage",
        ("care-plus.md", "fixfast-repairs.md"),
        plans=ADULT,
        count=8,
        situations=[
            "I came off the {bike_said} on a wet corner {when}.",
            "A car door opened into me and the front wheel is bent.",
            "I dropped the bike down the stairs and snapped the derailleur.",
            "Hit a pothole near {place} and the wheel is buckled.",
            "I crashed into a bollard {when}.",
        ],
        asks=[
            "Am I OK to get it repaired?",
            "Will I have to pay for this?",
            "How do I get it fixed?",
            "what's the cost for the repair?",
        ],
        shorts=["crashed my bike, repair cost?", "accident damage, what now"],
        reply=bike.damage_reply,
    ),
    Topic(
        "locking",
        ("locking-guide.md",),
        plans=ADULT,
        count=7,
        situations=[
            "I leave the {bike_said} at {place} all day.",
            "Bikes keep getting stolen on my street.",
            "I've just got the {plan_said}.",
            "My building's bike store isn't very secure.",
        ],
        asks=[
            "What's the best way to lock it?",
            "Which lock should I use?",
            "any tips on locking up?",
            "How do I make sure the theft excess applies?",
        ],
        shorts=["best lock?", "how should i lock the bike"],
        reply=bike.lock_reply,
    ),
    Topic(
        "battery",
        ("e-ride-battery.md",),
        plans=EBIKES,
        count=10,
        situations=[
            "I commute about 25 km each way.",
            "Got the {bike_said} last week.",
            "Planning a long ride at the weekend.",
            "It's my first e-bike.",
            "Thinking of switching to E-Ride.",
        ],
        asks=[
            "How far does the battery last?",
            "How long does it take to charge?",
            "what's the range and charge time?",
            "Any tips for looking after the battery?",
            "how do I charge it properly?",
        ],
        shorts=["battery range?", "how long to charge ebike", "e-ride range"],
        reply=bike.battery_reply,
        followups=[
            (
                [
                    "Could I get a second battery for longer rides?",
                    "is a spare battery an option?",
                    "Do you sell extra batteries?",
                ],
                bike.battery_follow,
            )
        ],
    ),
    Topic(
        "display_code",
        ("e-ride-display-codes.md",),
        plans=EBIKES,
        slots=lambda rng, c: c.update(code=rng.choice(bike.CODES)),
        count=10,
        situations=[
            "My {bike_said} display is showing {code[0]}.",
            "Got an {code[0]} on the screen {when}.",
            "The screen says {code[0]} and the motor stopped helping.",
            "{code[0]} keeps flashing on the display.",
        ],
        asks=["What does that mean?", "How do I fix it?", "is it safe to ride?", "what should I do?"],
        shorts=["{code[0]} error??", "what's {code[0]} on the display"],
        reply=bike.code_reply,
    ),
    Topic(
        "cargo_kids",
        ("cargo-bike.md",),
        plans=("Cargo",),
        count=7,
        situations=[
            "We've got twins aged 3.",
            "I do the school run with two kids every morning.",
            "Our youngest is 18 months.",
            "Thinking about the cargo bike for nursery drop-offs.",
        ],
        asks=[
            "Can the Haul carry both kids?",
            "Is it safe for children?",
            "What are the weight limits?",
            "what do I need to know about carrying kids?",
        ],
        shorts=["cargo bike kids limit", "how many kids in the haul"],
        reply=bike.cargo_reply,
    ),
    Topic(
        "kids_grow",
        ("kids-grow.md",),
        plans=("Kids Grow",),
        slots=bike.kids_slots,
        count=8,
        situations=[
            "{kid} is {age} now and has outgrown the Sprout.",
            "{kid} turned {age} and their knees hit the bars.",
            "The Kids Grow bike is getting too small for {kid}, who's {age}.",
            "{kid}'s {age} and keen for a bigger bike.",
        ],
        asks=[
            "How do we swap sizes?",
            "What's the next size and does it cost anything?",
            "can we move up a size?",
            "how does the swap work?",
        ],
        shorts=[],
        reply=bike.kids_reply,
    ),
    Topic(
        "moving",
        ("moving-house.md",),
        slots=account.move_slots,
        count=9,
        situations=[
            "I'm moving from {city} to {dest} next month.",
            "We've got a new job in {dest}, so we're leaving {city}.",
            "Relocating to {dest} in a few weeks.",
            "Moving house to {dest} at the end of the month.",
        ],
        asks=[
            "What happens to my subscription?",
            "Can I take the bike with me?",
            "do I have to cancel?",
            "How does that work with the bike?",
        ],
        shorts=[],
        reply=account.move_reply,
    ),
    Topic(
        "upgrade",
        ("changing-plan.md",),
        plans=("Commuter", "Commuter Plus", "E-Ride"),
        slots=account.upgrade_slots,
        count=8,
        situations=[
            "The hills on my commute are killing me on the {plan_said}.",
            "I want to move up to {target}.",
            "I've been on {plan} for a bit and fancy {target}.",
            "My commute got longer and I'm thinking about {target}.",
        ],
        asks=[
            "Can I upgrade?",
            "How do I change plan?",
            "is switching possible mid-term?",
            "What would upgrading involve?",
        ],
        shorts=[],
        reply=account.upgrade_reply,
    ),
    Topic(
        "login",
        ("account-and-app.md",),
        count=8,
        situations=[
            "The sign-in link never arrives.",
            "I can't log into the app.",
            "Tapped the link in the email and it says it has expired.",
            "Got a new phone and now I'm logged out.",
        ],
        asks=[
            "How do I get back in?",
            "What am I doing wrong?",
            "can you help me log in?",
            "Is there a password I can use instead?",
        ],
        shorts=["cant log in", "login link not working", "app wont let me sign in"],
        reply=account.login_reply,
    ),
    Topic(
        "privacy",
        ("privacy-and-data.md",),
        plans=EBIKES,
        count=7,
        situations=[
            "I read that your e-bikes have a GPS tracker.",
            "I'm a bit uneasy about being tracked.",
            "I'm leaving Larkspur and want my data gone.",
            "I care a lot about privacy.",
        ],
        asks=[
            "Do you track where I ride?",
            "How do I delete my account?",
            "what do you do with the location data?",
            "what happens to my data?",
        ],
        shorts=["do you track my bike", "delete my account pls", "GPS tracking?"],
        reply=account.privacy_reply,
    ),
    Topic(
        "gift",
        ("gift-subscriptions.md",),
        count=7,
        situations=[
            "My dad's retiring and wants to get fit.",
            "Looking for a birthday present for my girlfriend.",
            "My nephew is starting uni in {city}.",
            "Christmas present idea for my brother.",
        ],
        asks=[
            "Do you do gift subscriptions?",
            "How do gifts work?",
            "can i buy a bike sub for someone else?",
            "What gift options are there?",
        ],
        shorts=["gift subscription?", "can I gift a bike", "gift codes?"],
        reply=account.gift_reply,
    ),
    Topic(
        "business",
        ("larkspur-for-business.md",),
        plans=ADULT,
        count=7,
        situations=[
            "I run a design studio with 8 staff in {city}.",
            "We're a small bakery and want to do deliveries by cargo bike.",
            "Our HR team is looking at a cycle to work scheme.",
            "I manage facilities for an office of about 40 people.",
        ],
        asks=[
            "Do you offer business accounts?",
            "What would you offer us?",
            "how does the business side work?",
            "Can we get a discount for several bikes?",
        ],
        shorts=["business plans?", "bikes for my team", "corporate accounts?"],
        reply=account.business_reply,
    ),
    Topic(
        "workshop_hours",
        ("workshops.html",),
        count=10,
        situations=[
            "I'm in {city}.",
            "I want to pop into the {city} workshop.",
            "Need to drop my bike at {ws}.",
            "Thinking of coming in on Sunday in {city}.",
        ],
        asks=[
            "What are your opening hours?",
            "Where are you and when are you open?",
            "when can I come in?",
            "Are you open at the weekend?",
        ],
        shorts=["{city} opening times?", "{ws} hours", "address of the {city} shop?"],
        reply=bike.hours_reply,
        followups=[(["Do I need to book?", "can I just turn up?", "Is an appointment needed?"], bike.hours_follow)],
    ),
    Topic(
        "walk_in_repair",
        ("repair-price-list.html", "workshops.html"),
        slots=bike.walkin_slots,
        count=8,
        situations=[
            "I'm not a subscriber but I have {other_bike}.",
            "{other_bike} needs some love.",
            "I've got {other_bike} that hasn't been looked at in years.",
            "I'd like {a_service} for {other_bike}.",
        ],
        asks=[
            "How much is {a_service}?",
            "Do you work on bikes that aren't yours?",
            "what would {a_service} cost?",
            "Can I book {a_service}?",
        ],
        shorts=[],
        reply=bike.walkin_reply,
    ),
    Topic(
        "shop_return",
        ("shop-orders-and-returns.html",),
        count=7,
        situations=[
            "I ordered a pannier and it's too small.",
            "Bought a helmet online but I changed my mind before wearing it.",
            "The lights I ordered don't fit my handlebars.",
            "Got two locks by mistake in my last order.",
        ],
        asks=["Can I return it?", "How do returns work?", "will I get a refund?", "What's your returns policy?"],
        shorts=["shop return policy?", "how do i return an order"],
        reply=bike.shop_reply,
    ),
    Topic(
        "shop_item",
        ("shop-accessories.html",),
        slots=bike.sku_slots,
        count=8,
        situations=[
            "I'm after a {item_wanted}.",
            "Do you stock a {item_wanted}?",
            "Looking to buy a {item_wanted} for my bike.",
            "Need a {item_wanted} before the weekend.",
        ],
        asks=["How much is it?", "Can I order one?", "what's the price and how fast is delivery?", "How do I buy it?"],
        shorts=["{item_wanted} price?", "do u sell a {item_wanted}"],
        reply=bike.sku_reply,
    ),
    Topic(
        "recall",
        ("safety-notice-volt-brake-hose.md",),
        plans=("E-Ride",),
        count=7,
        situations=[
            "I got an email about a brake hose problem on the Volt.",
            "Saw the safety notice about Volt brakes.",
            "My front brake feels a bit soft lately and I heard there's a recall.",
            "A friend said some e-bikes have a brake issue.",
        ],
        asks=[
            "Is my bike affected?",
            "What do I need to do?",
            "how do I check if mine is one of them?",
            "Should I stop riding?",
        ],
        shorts=["brake recall volt?", "safety notice brake hose - am i affected"],
        reply=bike.recall_reply,
    ),
    Topic(
        "scam",
        ("scam-awareness.md",),
        count=7,
        situations=[
            "I got a text saying my Larkspur refund is ready if I pay a release fee.",
            "Someone called claiming to be from Larkspur asking for my card number.",
            "Got an email with a link to 'confirm my bank details' for my bike subscription.",
            "A message said my account is suspended unless I transfer money.",
        ],
        asks=["Is this really you?", "Is that legit?", "what should i do?", "Should I be worried?"],
        shorts=["is this text from you?", "scam or real?"],
        reply=account.scam_reply,
    ),
    Topic(
        "complaint",
        ("contact-us.md",),
        count=8,
        situations=[
            "My repair was booked three times and nobody turned up.",
            "The driver was rude and left the bike in the rain.",
            "I've been charged twice this month.",
            "I waited on the phone for ages and got cut off.",
            "Nobody has answered my emails for a week.",
        ],
        asks=[
            "I want to make a complaint.",
            "How do I complain formally?",
            "This isn't acceptable, what are you going to do?",
            "Who can I escalate this to?",
        ],
        shorts=[],
        reply=account.complaint_reply,
    ),
    Topic(
        "winter",
        ("winter-riding.md",),
        count=7,
        situations=[
            "First winter riding to work.",
            "It's getting dark so early now.",
            "The roads round {place} are icy in the mornings.",
            "Never ridden in winter before.",
        ],
        asks=[
            "Any tips for winter riding?",
            "What should I do to stay safe?",
            "do you do a winter check?",
            "how do I look after the bike in winter?",
        ],
        shorts=["winter tips?", "riding in ice - advice"],
        reply=bike.winter_reply,
    ),
    Topic(
        "rider_rules",
        ("rider-requirements.txt",),
        plans=("E-Ride",),
        slots=bike.riders_slots,
        count=7,
        situations=[
            "I've got the {plan_said} and {rider[0]} wants to ride it.",
            "{rider[0]} keeps asking to borrow the {bike_said}.",
            "Wondering about {rider[0]} using my {bike_said} at weekends.",
        ],
        asks=["Is that allowed?", "Can they ride it?", "what are the rules?", "Are there limits on who rides it?"],
        shorts=[],
        reply=bike.riders_reply,
    ),
    Topic(
        "service_area",
        ("service-area.html",),
        count=7,
        situations=[
            "I live just outside {city}.",
            "We're moving to a village near {city}.",
            "I work in {city} but live about 12 miles out.",
            "Not sure if my postcode counts as {city}.",
        ],
        asks=["Do you deliver to me?", "Am I in your area?", "can I still get a bike?", "What's your coverage?"],
        shorts=["do you cover my area", "service area?"],
        reply=account.area_reply,
    ),
    Topic(
        "bike_care",
        (),
        plans=ADULT,
        count=7,
        situations=[
            "The saddle feels too low on my {bike_said}.",
            "My chain's squeaking a bit.",
            "I like tinkering with bikes.",
            "The tyres look a bit soft.",
        ],
        asks=[
            "Can I adjust things myself?",
            "Am I allowed to do basic maintenance?",
            "what can I fix at home?",
            "Is it OK to do it myself or should I book a repair?",
        ],
        shorts=["can i oil the chain myself", "diy maintenance ok?"],
        reply=bike.care_basics_reply,
    ),
]
