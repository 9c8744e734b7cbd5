"""The offline interviewer reads the framework's answers out of text written the way people write."""

from __future__ import annotations

import pytest

from agent.interviewer.offline import OfflineInterviewer, clauses, sentences

ISSUE_EXAMPLES = [
    (
        "We want our support bot to sound like our best agent: same tone, terms and formatting. We have 8,000 of her "
        "conversations. Weeks of prompt engineering on GPT-4o didn't get there. Her style is stable, and the data can go "
        "to OpenAI; we iterate fast.",
        {
            "behaviour": True,
            "examples": 8000,
            "prompting": "fell_short",
            "stable": True,
            "private": False,
            "fast_iteration": True,
        },
        {"knowledge"},
    ),
    ("Answer questions about our pricing, which changes every week.", {"knowledge": True}, {"behaviour", "stable"}),
    (
        "Make replies more concise; we haven't tried a system prompt.",
        {"behaviour": True, "prompting": "not_tried"},
        {"knowledge"},
    ),
    (
        "Write in our house style and answer from our knowledge base, which is updated daily. 2,500 styled answers, "
        "prompting fell short, customer data must stay on our servers.",
        {"behaviour": True, "knowledge": True, "examples": 2500, "prompting": "fell_short", "private": True},
        {"stable"},
    ),
    (
        "Fine-tune on our 25 examples of legal summaries; a careful prompt was not good enough.",
        {"behaviour": True, "examples": 25, "prompting": "fell_short"},
        {"knowledge"},
    ),
    ("The tone guidelines will be replaced next quarter.", {"behaviour": True, "stable": False}, {"knowledge"}),
]

# Our own goal texts: lower case, lists, hedges, typos and numbers written every which way.
OWN_TEXTS = [
    (
        "our chatbot keeps giving these long rambling answers with disclaimers everywhere. we want short, direct replies "
        "in a friendly tone. I wrote a pretty detailed system prompt last month and it's maybe 60% there. we have about "
        "1.2k chats our team marked as 'perfect'.",
        {"behaviour": True, "prompting": "fell_short", "examples": 1200},
        {"knowledge"},
    ),
    (
        "Our sales team needs an assistant that knows our product catalogue (about 3,000 SKUs, specs change monthly) and "
        "can answer customer questions about availability.",
        {"knowledge": True},
        {"examples", "stable"},
    ),
    (
        "We'd like the model to classify incoming support emails into our 14 internal categories. We've labelled 4,500 "
        "emails over the past year. Prompting GPT-4.1 with the category descriptions gets it right maybe 70% of the time. "
        "The categories haven't changed in two years. Everything is hosted on Azure and we're fine sending data to OpenAI.",
        {"behaviour": True, "examples": 4500, "prompting": "fell_short", "stable": True, "private": False},
        set(),
    ),
    (
        "I run a small law firm. We want drafts of client letters in our firm's voice. We have roughly 300 letters we're "
        "proud of. Client information is privileged and can't leave our office network. Haven't really tried prompting "
        "beyond asking ChatGPT.",
        # a law firm is not by itself a complex domain: only "enterprise", "complex", "specialised" and the like are
        {"behaviour": True, "examples": 300, "private": True, "prompting": "not_tried"},
        {"complex_domain"},
    ),
    (
        "Help! Our docs bot hallucinates API parameters that don't exist. It should only answer from our developer "
        "documentation, which we update with every release.",
        {"knowledge": True},
        {"stable", "examples"},
    ),
    (
        "We need JSON output that matches our schema every single time, for extracting fields from invoices. A long "
        "prompt with 20 few-shot examples works most of the time but we're paying for ~6k tokens on every call at "
        "2 million requests a month.",
        {"behaviour": True, "prompt_large": True, "requests_per_month": 2_000_000},
        {"knowledge"},
    ),
    (
        "Tone is all over the place across our agents' macros. Want one consistent voice. No data collected yet and "
        "we're still debating what the voice should be with the brand team.",
        {"behaviour": True, "examples": 0, "stable": False},
        set(),
    ),
    (
        "We want an internal assistant for HR questions - benefits, leave policy, expense rules. Employees keep asking "
        "the same things.",
        {"knowledge": True},
        {"examples"},
    ),
    (
        "Our medical transcription summaries need to follow a strict SOAP note format. We have ~15,000 de-identified "
        "notes written by our physicians. Patient data must stay on-prem for HIPAA. Prompt engineering with Llama 3 "
        "couldn't get the section structure consistent. The SOAP format is a standard and won't change.",
        {"behaviour": True, "examples": 15000, "private": True, "prompting": "fell_short", "stable": True},
        {"complex_domain"},
    ),
    ("make it sound less robotic", {"behaviour": True}, {"knowledge", "examples"}),
    (
        "We're a startup building a coding assistant for our internal framework. It needs to know our APIs, and also "
        "write code in our conventions (naming, error handling). We have 800 reviewed PRs as examples. We've tried a "
        "system prompt with our style guide and it kind of works but misses conventions often. Fine to use OpenAI.",
        {"behaviour": True, "knowledge": True, "examples": 800, "prompting": "fell_short", "private": False},
        set(),
    ),
    (
        "Customer-facing FAQ answers from our help center articles. There are about 400 articles and they get edited "
        "constantly.",
        {"knowledge": True, "documents": 400},
        {"examples", "stable"},
    ),
    (
        "The model should refuse to give investment advice and always add our disclaimer. We've got maybe 200 example "
        "conversations. We tried instructions in the prompt but it still slips sometimes. Policy on this is set by "
        "regulators and hasn't changed in years.",
        {"behaviour": True, "examples": 200, "prompting": "fell_short", "stable": True},
        {"private"},
    ),
    (
        "Our e-commerce search assistant needs up-to-date stock and prices, plus product knowledge.",
        {"knowledge": True},
        {"behaviour"},
    ),
    (
        "We want to translate product descriptions into German in our brand's style. We have 50k human-translated "
        "descriptions. Translations must match our glossary. Data isn't sensitive. Best quality matters, budget is "
        "flexible.",
        {"behaviour": True, "examples": 50000, "private": False, "best_quality": True},
        set(),
    ),
    (
        "Honestly we haven't done much yet, just the default ChatGPT. We want our bot to answer in Spanish, shorter, and "
        "with our sign-off.",
        {"prompting": "not_tried", "behaviour": True},
        {"knowledge"},
    ),
    (
        "Support replies need to sound like us. We have twenty example replies. We tried a prompt - close, but not quite.",
        {"behaviour": True, "examples": 20, "prompting": "fell_short"},
        set(),
    ),
    (
        "Answers must quote our internal wiki and the current on-call schedule, which changes daily.",
        {"knowledge": True},
        {"stable", "behaviour"},
    ),
    (
        "We need the model to write release notes in our format from commit messages. We have 120 past release notes. "
        "Prompting gets us about 85% there. Format is fixed.",
        {"behaviour": True, "examples": 120, "prompting": "good_enough", "stable": True},
        set(),
    ),
    (
        "We want a bot that talks like a pirate for our game. The game's lore is in 30 design docs. Our writers are still "
        "changing the character's personality every sprint.",
        {"behaviour": True, "knowledge": True, "stable": False, "documents": 30},
        {"examples"},
    ),
    (
        "Legal says nothing can go to third-party AI providers. We'd like consistent formatting of incident reports; we "
        "have 3,200 of them, all reviewed.",
        {"private": True, "behaviour": True, "examples": 3200},
        set(),
    ),
    (
        "Our prompts are fine. We just need the model to know about our 2025 product line.",
        {"knowledge": True, "prompting": "good_enough"},
        {"examples"},
    ),
    (
        "We're comfortable with OpenAI seeing the data. About a thousand tickets with ideal responses. The assistant is "
        "too chatty and we want the bullet-point format our agents use.",
        {"private": False, "examples": 1000, "behaviour": True},
        {"knowledge"},
    ),
]

# Written as a held-out set before the rules were tuned on them (16 of 23 facts read then; all now).
HELD_OUT = [
    (
        "Our assistant writes way too formally for our audience of teenagers. We have 600 messages our community team "
        "wrote that nail the vibe. We've iterated on the system prompt for a month and it still sounds like a bank.",
        {"behaviour": True, "examples": 600, "prompting": "fell_short"},
        set(),
    ),
    (
        "Can the bot tell customers the status of their order and our current shipping times?",
        {"knowledge": True},
        set(),
    ),
    (
        "We need a model that outputs SQL for our warehouse schema, using our table naming. About 2k question/SQL pairs "
        "exist. Data has to remain in our VPC.",
        {"behaviour": True, "examples": 2000, "private": True},
        set(),
    ),
    (
        "i want it to stop saying 'as an AI language model'. haven't tried anything yet",
        {"behaviour": True, "prompting": "not_tried"},
        set(),
    ),
    (
        "The knowledge is in 1,500 Confluence pages that change all the time, and the answers must follow our support "
        "macro format. We tried prompting and it was ok-ish. We have 90 gold answers.",
        {"knowledge": True, "behaviour": True, "examples": 90},
        set(),
    ),
    (
        "Style won't change, it's our 20-year-old editorial standard. We have 10,000 edited articles. OpenAI is fine "
        "for us.",
        {"stable": True, "examples": 10000, "private": False},
        set(),
    ),
    (
        "We're building a tutor that explains maths step by step in a Socratic way. A good prompt gets it most of the "
        "way there.",
        {"behaviour": True, "prompting": "good_enough"},
        set(),
    ),
    (
        "Our legal team forbids sending any contract text to external services. The model should summarise contracts "
        "in our 5-section template.",
        {"private": True, "behaviour": True},
        set(),
    ),
    (
        "We only have like 30 examples so far but a prompt didn't cut it.",
        {"examples": 30, "prompting": "fell_short"},
        set(),
    ),
    ("The answer style will be decided after the rebrand in January.", {"behaviour": True, "stable": False}, set()),
]

# A second held-out set, written after the first was folded in: 14 of 17 facts read before these were added
# (one knowledge cue missed, "no joy" and "nobody's tried" misread); all now.
HELD_OUT_2 = [
    (
        "We run a travel agency. The assistant should recommend hotels from our partner list, which changes every "
        "season.",
        {"knowledge": True},
        {"stable"},
    ),
    (
        "Our code review bot writes comments that are way too long. I'd like it to be blunt and short like our lead dev. "
        "We've got about 3,500 of his review comments. We've played with the system prompt for ages, no joy.",
        {"behaviour": True, "examples": 3500, "prompting": "fell_short"},
        set(),
    ),
    ("Data must not leave the EU and we can't use US cloud providers.", {"private": True}, set()),
    (
        "It's mostly fine with a good prompt, maybe 90% there, we just want to shave costs since we send a 4,000-token "
        "prompt with every request.",
        {"prompting": "good_enough", "prompt_large": True},
        set(),
    ),
    (
        "We want the model to extract the invoice number, date and total as JSON from scanned invoices. Nobody's tried "
        "prompting yet.",
        {"behaviour": True, "prompting": "not_tried"},
        set(),
    ),
    ("Our brand voice is being reworked by an agency right now.", {"stable": False}, set()),
    ("We have 40 approved examples and honestly no more.", {"examples": 40}, set()),
    (
        "It needs to answer from our 200-page employee handbook and sound friendly.",
        {"knowledge": True, "behaviour": True},
        set(),
    ),
    ("We're fine with OpenAI having the data, it's all public product reviews.", {"private": False}, set()),
    (
        "The classification labels are fixed by regulation and have been for a decade. We have 12k labelled tickets.",
        {"stable": True, "examples": 12000, "behaviour": True},
        set(),
    ),
]

# Phrasings a goal writer found misread, each with natural variants (the fix is in the rules, not these strings).
# 1. Only a number attached to a data noun is the example count, and the most specific mention wins, not the first.
NUMBERS_THAT_COUNT_NOTHING = [
    (
        "We want a one-line summary at the top of every reply. It took three weeks of prompt work and it still drifts. "
        "We have 300 conversations our agents wrote.",
        {"examples": 300, "behaviour": True, "prompting": "fell_short"},
        set(),
    ),
    (
        "Answers should stay under 200 words. We're on version 2 of the API. Our support team has 1,500 answers written "
        "by our agents.",
        {"examples": 1500, "behaviour": True},
        set(),
    ),
    (
        "We spent 2 months on prompts and replies must have 3 short paragraphs. We have around 2k chats.",
        {"examples": 2000},
        set(),
    ),
    (
        "Keep each answer to 5 bullet points and under 100 words; the v3 prompt took 6 weeks. It should draft two "
        "replies for each ticket.",
        {"behaviour": True},
        {"examples"},
    ),
    ("We've saved about 4,000 past tickets, 600 of them with replies our leads approved.", {"examples": 600}, set()),
    ("We have 40 examples, and 2 of them are bad.", {"examples": 40}, set()),
]
# 2. Freshness ("always use the latest version", "changes weekly") asks for current facts: knowledge, not behaviour.
FRESHNESS_IS_KNOWLEDGE = [
    ("Always use the latest version.", {"knowledge": True}, {"behaviour"}),
    ("Always use the latest version of our docs.", {"knowledge": True}, {"behaviour", "stable"}),
    ("It has to always quote the newest prices; they change weekly.", {"knowledge": True}, {"behaviour", "stable"}),
    (
        "The bot must always answer from the current version of our policies, which are revised every month.",
        {"knowledge": True},
        {"behaviour", "stable"},
    ),
    ("Always give the latest opening hours and fees.", {"knowledge": True}, {"behaviour"}),
    ("Always answer in our house style and use the latest prices.", {"behaviour": True, "knowledge": True}, set()),
]
# 2b. "answer about N ..." counts messages; it is not "answer questions about" a subject.
COUNTS_ARE_NOT_SUBJECTS = [
    ("We answer about 900 emails a day and want replies in our house style.", {"behaviour": True}, {"knowledge"}),
    (
        "Our team answers on 300 tickets a week; make the replies sound like our best agent.",
        {"behaviour": True},
        {"knowledge"},
    ),
    (
        "It should answer questions about our warranty terms in our brand voice.",
        {"behaviour": True, "knowledge": True},
        set(),
    ),
]
# 3. Style talk that rules style out is not a behaviour problem (and, alone, points to knowledge).
STYLE_RULED_OUT = [
    (
        "We're happy with the tone; the problem is it doesn't know our return policy.",
        {"knowledge": True},
        {"behaviour"},
    ),
    (
        "The tone is fine and the format is already right, but it makes up our opening hours.",
        {"knowledge": True},
        {"behaviour"},
    ),
    ("Style isn't the problem. It needs to know our product catalogue.", {"knowledge": True}, {"behaviour"}),
    (
        "Nothing wrong with how it writes - tone and formatting are fine. It just doesn't know our internal wiki.",
        {"knowledge": True},
        {"behaviour"},
    ),
    ("Honestly the tone is fine.", {"knowledge": True}, {"behaviour"}),
    # ... but a style problem said plainly, or wished for, is still one.
    ("The tone is not right yet and the format is off.", {"behaviour": True}, set()),
    ("We'd be happy with shorter answers.", {"behaviour": True}, set()),
    ("The tone is fine, but answers run too long and ignore our format.", {"behaviour": True}, {"knowledge"}),
]

# Short replies to one question: (the fact asked for, the reply, the value it must give).
REPLIES = [
    ("prompting", "no", "not_tried"),
    ("prompting", "Not yet, honestly.", "not_tried"),
    ("prompting", "yes, for two weeks", "fell_short"),
    ("prompting", "yeah, it gets about 90% of the way", "good_enough"),
    ("prompting", "we did, it still ignores the format", "fell_short"),
    ("problem", "both", "both"),
    ("problem", "mostly knowledge", "knowledge"),
    ("problem", "behavior", "behaviour"),
    ("problem", "the tone and the facts", "both"),
    ("examples", "about 300", 300),
    ("examples", "none yet", 0),
    ("examples", "1.5k", 1500),
    ("examples", "a few hundred", 300),
    ("examples", "we have 8,000 chats", 8000),
    ("stable", "yes", True),
    ("stable", "it'll change next month", False),
    ("stable", "no, it keeps changing", False),
    ("stable", "it has been the same for years", True),
    ("private", "yes", False),
    ("private", "no", True),
    ("private", "it has to stay in-house", True),
    ("private", "OpenAI is fine", False),
    ("private", "no, it can't leave our servers", True),
    ("problem", "not the tone, the facts", "knowledge"),
    ("problem", "the style is fine", "knowledge"),
    ("examples", "about 300, collected over 2 years", 300),
    ("examples", "it took 3 weeks to label 450 of them", 450),
]


# Phrase families the first blind set showed the reader missing, each written here in words other than the blind
# set's: the rules must cover the family, not the sentence.
PHRASE_FAMILIES = [
    ("We're OK with the data going to OpenAI.", {"private": False}, set()),
    ("Our infosec team signed off on OpenAI for this.", {"private": False}, set()),
    ("The data is not allowed to go to OpenAI.", {"private": True}, set()),
    ("A hospital wants discharge letters in our template.", {"behaviour": True}, {"complex_domain"}),
    ("We are a large enterprise in a highly technical field.", {"complex_domain": True}, set()),
    (
        "Our prompt is 4k tokens. It works, but the bill at our volume is painful.",
        {"prompting": "good_enough", "prompt_large": True},
        set(),
    ),
    ("We tried Claude; the results were underwhelming.", {"prompting": "fell_short"}, set()),
    ("Our prompt is decent but the tone wobbles.", {"prompting": "fell_short"}, set()),
    ("We have 12.500 signed-off replies.", {"examples": 12500}, set()),
    ("We have 500k emails but none are labelled.", {"examples": 0}, set()),
    ("Maybe two dozen usable ones among our 80k tickets.", {"examples": 24}, set()),
    (
        "It must pull each customer's plan from our billing backend and reply in our friendly tone.",
        {"behaviour": True, "knowledge": True},
        set(),
    ),
    ("The tone guide is being rewritten by the new brand agency.", {"stable": False}, set()),
    ("Budget is flexible; we want the best possible assistant.", {"best_quality": True}, set()),
    ("We release every week and want quick experiments.", {"fast_iteration": True}, {"stable"}),
]


@pytest.fixture(scope="session")
def interviewer() -> OfflineInterviewer:
    from tools.rag.embedders import get_embedder

    # The rules and the similarity pass: the phrase families below are theirs. The heads revise a goal as a whole and
    # are measured across authors (benchmarks/interview_accuracy.py) and tested in tests/test_reader_heads.py.
    return OfflineInterviewer(get_embedder("local"), heads=None)  # MiniLM loads once for the whole test session


def _facts(interviewer: OfflineInterviewer, text: str, focus: str | None = None) -> dict:
    return {f.fact: f.value for f in interviewer.extract(text, focus=focus)}


@pytest.mark.parametrize(
    "text,expected,absent",
    ISSUE_EXAMPLES
    + OWN_TEXTS
    + HELD_OUT
    + HELD_OUT_2
    + NUMBERS_THAT_COUNT_NOTHING
    + FRESHNESS_IS_KNOWLEDGE
    + STYLE_RULED_OUT
    + COUNTS_ARE_NOT_SUBJECTS
    + PHRASE_FAMILIES,
)
def test_reads_what_people_wrote(interviewer, text, expected, absent):
    facts = _facts(interviewer, text)
    assert {k: facts.get(k) for k in expected} == expected, facts
    assert not absent & facts.keys(), facts


@pytest.mark.parametrize("focus,reply,value", REPLIES)
def test_short_replies_to_a_question(interviewer, focus, reply, value):
    facts = _facts(interviewer, reply, focus)
    assert facts.get(focus) == value, facts


def test_evidence_is_the_sentence_it_came_from(interviewer):
    text = ISSUE_EXAMPLES[0][0]
    found = {f.fact: f for f in interviewer.extract(text)}
    assert found["examples"].evidence == "We have 8,000 of her conversations."
    assert found["prompting"].evidence == "Weeks of prompt engineering on GPT-4o didn't get there."
    assert found["examples"].how == "stated"


def test_similarity_catches_paraphrases_the_rules_miss(interviewer):
    found = {
        f.fact: f
        for f in interviewer.extract(
            "Our security team will not allow customer records to be handed to any outside company."
        )
    }
    assert found["private"].value is True


def test_similarity_never_lets_data_out(interviewer):
    """Only stated words may send data to OpenAI: a similarity guess of "may go" is dropped, so privacy keeps its
    safe default and the interview asks."""
    seen = []

    def add(fact, value, *args, **kwargs):
        seen.append((fact, value))

    interviewer._accept("private", {"false": (0.9, "Internal data only.", 0.7)}, add)
    interviewer._accept("private", {"true": (0.9, "It stays with us.", 0.7)}, add)
    assert seen == [("private", True)]


def test_split_keeps_wording():
    assert sentences("One. Two; three\nfour!") == ["One.", "Two", "three", "four!"]
    assert clauses("a, b and c") == ["a", "b", "c"]


def test_the_issue_examples_lead_to_their_recommendation(interviewer):
    from graphs.interview import absorb, defaults, known
    from tools.decision import Facts, decide

    expected = [
        ("fine_tune", "openai_gpt41_mini"),
        ("rag", None),
        ("prompt_engineering", None),
        ("fine_tune_rag", "qlora_self_hosted"),
        ("collect_more_data", None),
        ("prompt_engineering", None),
    ]
    for (text, _, _), (approach, path) in zip(ISSUE_EXAMPLES, expected, strict=True):
        d = decide(Facts(**{**defaults(), **known(absorb({}, interviewer.extract(text)))}))
        assert (d.approach, d.fine_tune_path) == (approach, path), text


@pytest.mark.parametrize(
    "text,count",
    [
        ("a one-line summary at the top of each reply", None),
        ("it took three weeks of prompt work", None),
        ("answers under 200 words", None),
        ("version 2 of the api returns replies", None),
        ("our 200-page handbook", None),
        ("3 bullet points per reply", None),
        ("it should draft two replies", None),
        ("our 5 agents wrote replies for two years", None),
        ("we have 8,000 of her conversations", 8000),
        ("we'd like to fine-tune on 500 examples", 500),
        ("the 500 tickets we have", 500),
        ("about 2k question/sql pairs exist", 2000),
        ("we have 20-30 examples", 30),
        ("we have 20,000 raw chats and 1,200 reviewed answers", 1200),
        ("we have hundreds of tickets, 40 of them", 40),  # exact beats vague
    ],
)
def test_only_numbers_attached_to_data_count(text, count):
    from agent.interviewer import rules

    assert rules.counts(text).get("examples") == count


# ---- reading an answer in the context of its question (issue 14) -------------------------------------------------

NDA_GOAL = (
    "Our legal team wants a model that drafts NDAs in our firm's exact clause structure. We have about 400 past NDAs."
)
NDA_PROMPTING = "yes, we tried GPT-4.1 with 5 examples, it gets the clauses in the wrong order about half the time"


def _decide(interviewer, goal: str, answers: dict[str, str]):
    from graphs.interview import absorb, defaults, known
    from tools.decision import Facts, decide

    facts: dict = {}
    facts.update(absorb(facts, interviewer.extract(goal)))
    for fact, answer in answers.items():
        facts.update(absorb(facts, interviewer.extract(answer, focus=fact), asked=fact))
    return Facts(**{**defaults(), **known(facts)}), decide(Facts(**{**defaults(), **known(facts)}))


def test_few_shot_examples_in_the_prompting_answer_are_not_training_data(interviewer):
    reply = {f.fact: f for f in interviewer.extract(NDA_PROMPTING, focus="prompting")}
    assert reply["prompting"].value == "fell_short" and "examples" not in reply
    facts, d = _decide(interviewer, NDA_GOAL, {"prompting": NDA_PROMPTING})
    assert (facts.examples, facts.prompting, facts.complex_domain) == (400, "fell_short", False)
    assert d.approach == "fine_tune"


@pytest.mark.parametrize(
    "text,count",
    [
        (
            "We tried a prompt with 3 examples and it breaks the layout. Our reports (around 2,000, written 2019-2024) "
            "follow a strict layout.",
            2000,
        ),
        ("A careful prompt with 5 examples gets 88%. We tagged 1,000 episodes by hand.", 1000),
        ("Our prompt has 20 few-shot examples in every request.", None),
    ],
)
def test_few_shot_counts_in_a_goal_are_not_data(text, count):
    from agent.interviewer import rules

    assert rules.counts(text.lower()).get("examples") == count


@pytest.mark.parametrize(
    "text,count",
    [
        ("we have about 400 past ndas.", 400),
        ("6k labeled tickets", 6000),
        ("20k logged prompt/response pairs", 20000),
        ("we have 2,400 filings annotated by our analysts.", 2400),
        ("40k commits in our repo follow it", 40000),
        ("classify emails. 2k labeled.", 2000),
        ("we have 1 000 good short answers", 1000),
        ("650 answered questions from the legal team", 650),
        ("we have 2,000 labelled intents", 2000),
        # numbers that count people, places, taxonomies, money, time or volume
        ("our team of 8 writers since 2021", None),
        ("we're 3 support agents handling ~1,500 orders a week", None),
        ("45% of complaints last year", None),
        ("we pay $0.02 per call and handle 40,000 calls a day", None),
        ("pick one of our 60 intents", None),
        ("24/7 support in 4 languages", None),
        ("our 14 restaurants", None),
        ("the 12 risk factors from 10-k filings", None),
        ("a 6-point rubric", None),
    ],
)
def test_domain_nouns_count_as_data_and_distractors_do_not(text, count):
    from agent.interviewer import rules

    assert rules.counts(text).get("examples") == count


@pytest.mark.parametrize(
    "text,problem",
    [
        ("We want a bot that answers customers using live data from our order-tracking API.", "knowledge"),
        ("The assistant should look it up in our Shopify orders and reply.", "knowledge"),
        ("Build a customer service agent which checks the status of a refund in our payments system.", "knowledge"),
        ("Each one asks about their own project status which lives in Jira.", "knowledge"),
        ("We want release notes written in our format from merged PR titles.", "behaviour"),
        ("We don't have a knowledge problem. It just doesn't write lab reports in our group's format.", "behaviour"),
        ("Answer from our help-centre articles and sound like our agents: short, warm.", "both"),
        ("Assistant that knows the current tax rules and writes memos like our seniors.", "both"),
    ],
)
def test_live_data_is_knowledge_and_behaviour_plus_knowledge_is_both(interviewer, text, problem):
    from graphs.interview import absorb, problem_fact

    assert problem_fact(absorb({}, interviewer.extract(text)))["value"] == problem


@pytest.mark.parametrize(
    "text,value",
    [
        ("Prompting already handles the format; we want it a bit more consistent.", "good_enough"),
        ("Our system prompt handles the tone well.", "good_enough"),
        ("Prompting is at 65%.", "fell_short"),
        ("Our prompt is 95% accurate on the format.", "good_enough"),
        ("The prompt couldn't get the tone right.", "fell_short"),
        ("Prompted GPT-4.1: comments are too polite.", "fell_short"),
        ("Nobody on the team has written a prompt yet.", "not_tried"),
    ],
)
def test_how_far_prompting_got(interviewer, text, value):
    assert _facts(interviewer, text).get("prompting") == value


# Kind 4 of issue 28: prompting that was tried, said in the writers' own words. The rules were widened from other
# authors' goals (blind1, G-spec, H-nontech, W-translated, AR-phone, E-email); these phrasings are by the authors
# named beside them, whose goals were not looked at for the change.
@pytest.mark.parametrize(
    "text,value",
    [
        ("Few-shot baseline F1 0.61", "fell_short"),  # AB-public
        ("A zero-shot prompt gets F1 0.52.", "fell_short"),  # AL-media
        ("Prompt baseline accuracy 0,64.", "fell_short"),  # F-nonnative: a decimal comma
        (
            "Our few-shot prompt that classifies patient portal messages as urgent / routine / administrative already "
            "reaches F1 0.88 against nurse triage labels",
            "good_enough",
        ),  # N-research
        ("Zero-shot ~58% correct codes", "fell_short"),  # AS-consult
        ("Zero-shot, the model got the domain judgements right about half the time.", "fell_short"),  # N-research
        (
            "we just have a basic system prompt, nothing fancy, and it's not cutting it.",
            "fell_short",
        ),  # AC-startup
        ("Prompting close but not there.", "fell_short"),  # A-dev
        # a percentage in words: AB-public's own goal, which showed the gap (the rules read "80%", not "eighty percent")
        (
            "With our current prompt approximately eighty percent of test conversations pass our checklist.",
            "good_enough",
        ),
        ("We pasted the price list into the prompt, and the model still mixes the two up.", "fell_short"),  # M-success
    ],
)
def test_prompting_tried_in_the_writers_own_words(interviewer, text, value):
    assert _facts(interviewer, text).get("prompting") == value


# Kind 2 of issue 28: labels people do not agree on. The figure is read both ways ("kappa 0.86" is trustworthy, and
# the word kappa alone used to read as low agreement). The rule was written from the authors A to AP and G to Z; these
# phrasings are by AQ-lab, AR-phone, AS-consult, AU-investor, AV-assistant, AW-postmortem, D-terse and F-nonnative,
# which were not looked at for it.
@pytest.mark.parametrize(
    "text,value",
    [
        ("We have 3,000 labelled tickets; exact agreement 52%.", "low_agreement"),  # AQ-lab
        ("and the labels were done by 3 diff dispatchers who didnt agree half the time", "low_agreement"),  # AR-phone
        ("5k incidents labelled by two teams, agreement between teams ~55%.", "low_agreement"),  # AS-consult
        (
            "Two marine superintendents labelled a year's worth of observations independently -> they disagree on "
            "roughly 40% of them.",
            "low_agreement",
        ),  # AS-consult
        ("Clause risk ratings were labeled by 3 lawyers, who agree only about half the time.", "low_agreement"),  # AU
        ("When three staff re-labelled a sample of 500, they agreed only about 60% of the time", "low_agreement"),  # AV
        (
            "We have 9,000 notes double-coded by two coders, but the coders disagree on about a third of them.",
            "low_agreement",
        ),  # AW
        ("1.5k annotated emails, 2 annotators agreed on 95%", "good"),  # D-terse
        # a kappa is read by its value: the word alone used to read as low agreement
        ("Our 18k queries were labelled by two annotators, kappa 0.86.", "good"),
        ("Cohen's kappa was 0.41.", "low_agreement"),
        (
            "Three supervisors labelled 4.000 notes, but when we checked 200 together they agreed only in half.",
            "low_agreement",
        ),  # F
    ],
)
def test_how_far_the_labellers_agree_in_the_writers_own_words(interviewer, text, value):
    assert _facts(interviewer, text).get("data_quality") == value


@pytest.mark.parametrize(
    "text",
    [
        "The vendor agreed to a 15% discount if we sign for two years.",
        "Our enterprise agreement gives us 20% off list price.",
        "We are in alpha, v0.3 ships next week.",
        "Our linter prompt reaches 91% agreement with human reviewers on a 300-spec eval.",  # the prompt's score
    ],
)
def test_an_agreement_that_is_not_the_labellers_says_nothing_of_the_data(interviewer, text):
    assert _facts(interviewer, text).get("data_quality") is None


# Kind 5 of issue 28: permission to use OpenAI. The issue's own phrase ("Legal cleared OpenAI as a processor") was
# read by the heads but by no rule, so the confirm step could not quote it; these are AU-investor's, AV-assistant's,
# AW-postmortem's and E-email's words.
@pytest.mark.parametrize(
    "text",
    [
        "They already run a fine-tuned model for listing titles and legal cleared OpenAI as a processor last year.",
        "GC approved OpenAI under our enterprise DPA.",
        "OpenAI approved by security.",
        "I should mention that we signed a business associate agreement with OpenAI last month.",
    ],
)
def test_permission_to_use_openai_in_the_writers_own_words(interviewer, text):
    assert _facts(interviewer, text).get("private") is False


def test_a_cloud_that_is_not_allowed_stays_private(interviewer):
    assert _facts(interviewer, "No third-party LLM APIs allowed by our security team.").get("private") is True
    assert _facts(interviewer, "Legal has not cleared OpenAI as a processor.").get("private") is not False
    assert _facts(interviewer, "OpenAI is not approved by legal for this data.").get("private") is not False
    assert _facts(interviewer, "Only approved vendors may see the data.").get("private") is not False


def test_a_label_that_names_the_prompt_is_judged_by_the_line_after_it(interviewer):
    # Y-thread's shape (the rule was written from G-spec's "Prompting GPT-4o: CDR boundary accuracy 61%")
    text = "We want urgency tags on incoming tickets.\nTried a prompt with the schema and 3 examples:\nF1 on urgency was 0.58."
    found = {f.fact: f for f in interviewer.extract(text)}
    assert found["prompting"].value == "fell_short" and found["prompting"].how == "stated"
    assert found["prompting"].evidence == "Tried a prompt with the schema and 3 examples: F1 on urgency was 0.58."


def test_a_reply_about_stability_says_nothing_about_knowledge(interviewer):
    assert _facts(interviewer, "it changes every season", "stable") == {"stable": False}


def test_a_problem_reply_without_the_word_still_answers_it(interviewer):
    assert _facts(interviewer, "it has to know our current stock and prices", "problem")["problem"] == "knowledge"


def test_confidence_says_how_sure_a_reading_is(interviewer):
    from agent.interviewer.offline import Finding

    assert Finding("examples", 3, "x", "stated").confidence == 1.0  # the contract's default
    reply = {f.fact: f for f in interviewer.extract("about 300", focus="examples")}
    assert reply["examples"].confidence == 1.0  # a rule on the reply to its own question
    goal = {
        f.fact: f
        for f in interviewer.extract(
            "Make replies shorter. We have 2,000 approved replies. We tried a system prompt last month."
        )
    }
    assert 0.8 <= goal["examples"].confidence < 1.0  # a rule on a goal text
    assert goal["prompting"].how == "inferred" and goal["prompting"].confidence < goal["examples"].confidence
    conflict = {f.fact: f for f in interviewer.extract("We have 2,000 reviewed emails and 3,000 reviewed tickets.")}
    assert conflict["examples"].confidence < 0.5  # two equally specific counts: ask which
    assert conflict["examples"].how == "inferred"  # the text says both counts, not which one the reader chose
    similar = {
        f.fact: f
        for f in interviewer.extract(
            "Our security team will not allow customer records to be handed to any outside company."
        )
    }
    assert similar["private"].how == "inferred" and 0.5 <= similar["private"].confidence < 0.8


def test_the_rules_alone_read_the_dev_corpus_and_never_load_the_embedder():
    """The rules carry the reading (the embedder only fills gaps), so a first question can come before MiniLM loads.
    A floor, not the benchmark: benchmarks/interview_accuracy.py gives the figures with the embedder."""
    from benchmarks.interview_accuracy import DEV, load, score

    class Refuse:
        def embed(self, texts):
            raise AssertionError("rules_only must not embed")

    reader = OfflineInterviewer(Refuse(), rules_only=True)
    for path in DEV:  # the reader's own corpus and the first blind set, both tuned on now
        result = score(load(path), reader)
        assert result["n"] >= 90 and not result["label_errors"], path
        assert result["approach_accuracy"] >= 0.9 and result["path_accuracy"] >= 0.9, path


def test_a_run_on_goal_quotes_the_clause_that_said_each_thing():
    # Dictated with no full stops, the goal is one sentence: each finding quotes the clause that says it, not the
    # goal's first 90 characters; the readings still come from the whole sentence.
    goal = (
        "ok so basically I run a tutoring centre and the parents get a weekly progress note and honestly we tried "
        "writing a long prompt for it but the notes still come out stiff and we have about nine hundred notes our "
        "head tutor wrote herself and she wants them warm and short"
    )
    found = {f.fact: f for f in OfflineInterviewer(rules_only=True).extract(goal)}
    assert found["prompting"].value == "fell_short"
    assert found["prompting"].evidence == "honestly we tried writing a long prompt for it"
    assert found["behaviour"].evidence == "the notes still come out stiff"
    assert found["examples"].value == 900
    assert found["examples"].evidence == "we have about nine hundred notes our head tutor wrote herself"
    assert all(len(f.evidence) < len(goal) for f in found.values())
    short = "We tried a prompt, but it still sounds stiff."  # short enough to quote whole
    assert OfflineInterviewer(rules_only=True).extract(short)[0].evidence == short


def test_privacy_quotes_the_clause_that_says_where_the_data_may_go():
    # "patient" makes a goal private on its own, but the confirm list should quote the clause that says where the
    # data goes, wherever it is: a later sentence, or a later clause of a run-on one.
    goal = (
        "Answer questions on our patient portal from our 40 visit-prep leaflets. About 2,000 nurse replies were "
        "approved by the head nurse. Patient data stays on our servers."
    )
    found = {f.fact: f for f in OfflineInterviewer(rules_only=True).extract(goal)}
    assert found["private"].value is True
    assert found["private"].evidence == "Patient data stays on our servers."
    run_on = (
        "so we run the patient portal for a chain of clinics and want it to answer from the leaflets the nurses wrote "
        "and legal was very clear that the records must stay on our own hardware at all times"
    )
    found = {f.fact: f for f in OfflineInterviewer(rules_only=True).extract(run_on)}
    assert found["private"].value is True
    assert "must stay on our own hardware" in found["private"].evidence
    # A clause that gives leave to send outranks the sensitive word too: one reading, stated, not a conflict.
    cleared = "We handle patient intake forms. Legal cleared sending them to OpenAI under our BAA."
    private = {f.fact: f for f in OfflineInterviewer(rules_only=True).extract(cleared)}["private"]
    assert private.value is False and private.evidence.startswith("Legal cleared")
