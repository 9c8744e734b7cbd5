"""Issue 28: data quality as a fact, numbers given a role, and "stated" only where a clause says it.

The phrasings here are written in the shapes the issue lists, not copied from the corpora the heads were trained
on; the corpora's own figures come from benchmarks/interview_accuracy.py (leave-one-author-out).
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.interviewer import heads as H
from agent.interviewer import rules
from agent.interviewer.offline import Finding, OfflineInterviewer
from tools.decision import QUALITY_WHY, Facts, decide

TRIED = {"prompting": "fell_short", "problem": "behaviour", "stable": True}


@pytest.mark.parametrize("quality", sorted(QUALITY_WHY))
def test_examples_that_cannot_teach_lead_to_collecting_with_the_reason(quality):
    d = decide(Facts(**TRIED, examples=9000, data_quality=quality))
    assert d.approach == "collect_more_data" and d.fine_tune_path is None
    assert d.collect is not None and d.collect["have"] == 0 and d.collect["raw"] == 9000
    assert d.collect["quality"] == quality and d.collect["fix"] in d.rationale
    assert QUALITY_WHY[quality][0] in d.rationale


def test_good_examples_still_fine_tune():
    assert decide(Facts(**TRIED, examples=9000, data_quality="good")).approach == "fine_tune"


@pytest.mark.parametrize(
    ("clause", "quality"),
    [
        ("about 30k call transcripts, nobody has reviewed them and the asr error rate is ~12%", "unreviewed"),
        ("we have lots of raw chat logs from the old widget", "unreviewed"),
        ("an intern generated 4,000 q&a pairs with gpt-4o last month, not filtered", "generated_unfiltered"),
        ("the pairs are synthetic and nobody has looked at them", "generated_unfiltered"),
        ("the two labelling vendors disagree on roughly a third of cases", "low_agreement"),
        ("cohen's kappa between our raters came out at 0.38", "low_agreement"),
        ("the teams who labelled them agree on barely half", "low_agreement"),
        ("we kept the customer questions, not our answers", "inputs_only"),
        ("12k incoming tickets but the agent replies were never stored", "inputs_only"),
        ("our 600 examples follow the legacy template we're phasing out", "old_format"),
        ("1,200 reply pairs our senior agents reviewed and signed off", "good"),
    ],
)
def test_the_rules_read_what_is_wrong_with_the_data(clause, quality):
    assert rules.data_quality(clause) == quality


def test_a_clause_silent_on_quality_reads_nothing():
    assert rules.data_quality("we want replies in our brand voice") is None


# ---- the heads' part, with heads whose answer is fixed by their bias (no sentence vectors in play) --------------


def fixed(classes: tuple, chosen: object, p: float, features: int) -> H.Head:
    """A head that gives `chosen` probability `p` whatever the features (zero weights, a bias that decides)."""
    rest = (1 - p) / (len(classes) - 1)
    bias = np.log(np.array([p if c == chosen else rest for c in classes], dtype=np.float32))
    return H.Head(
        classes,
        np.zeros((len(classes), features), np.float32),
        bias,
        np.zeros(features, np.float32),
        np.ones(features, np.float32),
    )


GOAL = H.DIM * 2 + len(H.reading_features([])) + 2 * len(H.BANK)
BANK: dict = {}
for group, label in H.BANK:  # a bank of the right shape; the fixed heads never look at it
    if label:
        BANK.setdefault(group, {})[label] = np.zeros((1, H.DIM), np.float32)
    else:
        BANK[group] = np.zeros((1, H.DIM), np.float32)
ROLE = H.DIM + 16


def heads(role_p: float, **facts: tuple[object, float]) -> H.Heads:
    return H.Heads(
        facts={f: fixed((H.UNSAID, *H.FACTS[f]), *facts.get(f, (H.UNSAID, 0.9)), GOAL) for f in H.FACTS},
        role=fixed((False, True), True, role_p, ROLE),
    )


def revise(text: str, found: list[Finding], trained: H.Heads) -> dict[str, Finding]:
    numbers = H.numbers_in(text)
    return H.revise(
        text,
        {f.fact: f for f in found},
        trained,
        [text],
        np.zeros((1, H.DIM), np.float32),
        numbers,
        np.zeros((len(numbers), H.DIM), np.float32),
        make=Finding,
        bank=BANK,
    )


def test_the_goal_features_have_the_size_the_fake_heads_assume():
    assert H.goal_features(np.zeros((2, H.DIM), np.float32), [], BANK).shape == (GOAL,)


def test_the_number_features_have_the_size_the_fake_role_head_assumes():
    text = "we have 2,000 reviewed pairs"
    (n,) = H.numbers_in(text)
    assert H.number_features(text, n, np.zeros(H.DIM, np.float32), []).shape == (ROLE,)


def test_a_number_whose_role_is_not_examples_is_not_the_example_count():
    text = "Our app has 2M monthly active users."
    found = [Finding("examples", 2_000_000, text, "stated", 0.9)]
    assert "examples" not in revise(text, found, heads(role_p=0.05))


def test_a_number_of_unclear_role_stays_inferred_and_unsure_so_the_interview_asks():
    text = "We have 8,000 documents to translate."
    found = [Finding("examples", 8000, text, "stated", 0.9)]
    got = revise(text, found, heads(role_p=0.4))["examples"]
    assert got.how == "inferred" and got.confidence == 0.4


def test_stated_survives_only_where_the_head_agrees_surely():
    text = "Nobody reviewed the 3,000 transcripts."
    found = [Finding("data_quality", "unreviewed", text, "stated", 0.9)]
    sure = revise(text, found, heads(0.99, data_quality=("unreviewed", 0.97)))
    unsure = revise(text, found, heads(0.99, data_quality=("unreviewed", 0.7)))
    assert sure["data_quality"].how == "stated"
    assert unsure["data_quality"].how == "inferred" and unsure["data_quality"].confidence == 0.7


def test_a_goal_mostly_in_another_language_is_asked_about_never_stated():
    # Written for this test: Portuguese with English terms, the way a bilingual team types. The rules can still
    # fire on "3,000 transcripts ... nobody reviewed"; the reader cannot vouch for the rest, so nothing stays stated.
    text = (
        "A gente tem uns 3,000 transcripts de atendimento que ninguém revisou ainda, e o chatbot responde "
        "muito formal, queremos que ele fale como a nossa equipe fala com os clientes"
    )
    found = [Finding("data_quality", "unreviewed", text, "stated", 0.9)]
    got = revise(text, found, heads(0.99, data_quality=("unreviewed", 0.99)))["data_quality"]
    assert got.value == "unreviewed" and got.how == "inferred" and got.confidence == 0.5
    english = "Nobody has reviewed the 3,000 support transcripts yet, and the chatbot answers far too formally."
    found = [Finding("data_quality", "unreviewed", english, "stated", 0.9)]
    assert revise(english, found, heads(0.99, data_quality=("unreviewed", 0.99)))["data_quality"].how == "stated"


def test_english_is_told_by_its_words_not_by_its_register():
    from agent.interviewer.language import ENGLISH_MIN, english_share

    terse = "refund bot too stiff. 2k approved replies, infosec ok'd openai, prompt w/ 5 shots meh"
    jargon = "LoRA r=16 on a 7B, eval F1 0.71 vs few-shot 0.64, 12k gold pairs from the annotators, GDPR scope"
    other = "Nuestro bot de soporte contesta muy seco, queremos que suene como nuestros agentes, tenemos dos mil chats"
    assert english_share(terse) >= ENGLISH_MIN and english_share(jargon) >= ENGLISH_MIN
    assert english_share(other) < ENGLISH_MIN
    assert english_share("más corto por favor") is None  # too few words to tell: read as it is


def test_a_head_overrules_a_rule_only_when_it_is_sure():
    text = "We kept the customer questions, not our answers."
    found = [Finding("data_quality", "inputs_only", text, "stated", 0.9)]
    weak = revise(text, found, heads(0.1, data_quality=("good", 0.3)))["data_quality"]
    strong = revise(text, found, heads(0.1, data_quality=("good", 0.9)))["data_quality"]
    assert weak.value == "inputs_only" and weak.how == "inferred"
    assert strong.value == "good" and strong.how == "inferred"


def test_a_head_reads_what_no_rule_did_as_inferred_never_stated():
    text = "The writers tried a long prompt for weeks."
    got = revise(text, [], heads(0.1, prompting=("fell_short", 0.99)))["prompting"]
    assert got.value == "fell_short" and got.how == "inferred"


def test_problem_is_read_as_its_cues():
    text = "It quotes last year's shipping rates."
    found = [Finding("behaviour", True, text, "stated", 0.9)]
    got = revise(text, found, heads(0.1, problem=("knowledge", 0.9)))
    assert "behaviour" not in got and got["knowledge"].how == "inferred"


def test_heads_survive_a_save_and_load(tmp_path):
    trained = heads(0.3, prompting=("fell_short", 0.8))
    trained.save(tmp_path / "h.npz")
    back = H.Heads.load(tmp_path / "h.npz")
    assert set(back.facts) == set(H.FACTS) and back.role.classes == (False, True)
    x = np.zeros(GOAL, np.float32)
    assert back.facts["prompting"].predict(x)[0] == "fell_short"
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_shipped_heads_load_and_fit_the_features():
    assert H.shipped()
    shipped = H.Heads.load()
    assert shipped.lexicon is not None and len(shipped.lexicon.words) == len(shipped.lexicon.idf)
    for head in shipped.facts.values():
        assert head.weights.shape[1] == GOAL + len(shipped.lexicon.words)
    assert shipped.role.weights.shape[1] == ROLE


def test_the_lexicon_counts_words_and_pairs_that_several_goals_use():
    lexicon = H.Lexicon.fit(
        ["Answers live in the policy manuals.", "The policy manuals change monthly.", "Policy manuals, 300 pages."]
    )
    assert "policy manuals" in lexicon.words and "monthly" not in lexicon.words  # one goal's word is left out
    v = lexicon.vector("Our POLICY manuals and policy manuals again")
    assert v[lexicon.index["policy manuals"]] > 0 and v[lexicon.index["policy"]] > 0
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert not lexicon.vector("nothing known here").any()


def test_heads_with_a_lexicon_read_its_words(tmp_path):
    lexicon = H.Lexicon.fit(["our manuals", "our manuals", "our manuals", "our voice", "our voice", "our voice"])
    words = len(lexicon.words)
    knowledge = fixed((H.UNSAID, *H.FACTS["problem"]), H.UNSAID, 0.9, GOAL + words)
    w = knowledge.weights.copy()
    w[knowledge.classes.index("knowledge"), GOAL + lexicon.index["manuals"]] = 50.0  # the word "manuals" says knowledge
    facts = {f: fixed((H.UNSAID, *H.FACTS[f]), H.UNSAID, 0.9, GOAL + words) for f in H.FACTS}
    facts["problem"] = H.Head(knowledge.classes, w, knowledge.bias, knowledge.mean, knowledge.scale)
    trained = H.Heads(facts=facts, role=fixed((False, True), False, 0.9, ROLE), lexicon=lexicon)
    trained.save(tmp_path / "h.npz")
    back = H.Heads.load(tmp_path / "h.npz")
    assert back.lexicon is not None and back.lexicon.words == lexicon.words
    for text, want in (("Answers come from our manuals.", True), ("Replies in our voice.", False)):
        got = revise(text, [], back)
        assert ("knowledge" in got) is want, text


# ---- the shipped reader, end to end (the real MiniLM): only cases far from any threshold ----------------------


@pytest.fixture(scope="module")
def reader():
    from tools.rag.embedders import get_embedder

    return OfflineInterviewer(get_embedder("local"))


def test_users_are_not_training_examples(reader):
    found = {f.fact: f for f in reader.extract("Our app has 2M monthly active users and we want replies in our voice.")}
    assert "examples" not in found or found["examples"].value < 50


def test_unreviewed_transcripts_are_not_good_data(reader):
    goal = (
        "Summarise call transcripts into our CRM format. We have 40,000 transcripts but nobody reviewed them and "
        "the ASR error rate is about 15%."
    )
    found = {f.fact: f for f in reader.extract(goal)}
    assert found["data_quality"].value == "unreviewed"


def test_prompting_tried_in_the_writers_own_words(reader):
    goal = "With six examples in the prompt the characters still sound alike. 3,000 reviewed dialogue lines."
    found = {f.fact: f for f in reader.extract(goal)}
    assert found["prompting"].value == "fell_short"
    assert found["examples"].value == 3000


def test_a_goal_pasted_as_markdown_reads_as_the_same_goal_in_plain_words(reader):
    """A chat assistant's summary pasted in: bold headings and bullets are layout. With them, the heads let the
    count of good examples go (the AV-assistant author's goals lost 16 of 22 counts this way)."""
    from agent.interviewer.offline import plain

    md = (
        "**Goal:** Turn technicians' free-text visit notes into our service report template.\n\n"
        "**Current state:**\n- A prompt with the template gets the fields wrong about a third of the time.\n\n"
        "**Data:**\n- 1,250 service reports approved by the field lead, each with its visit notes.\n\n"
        "## Constraints\n* Notes stay on our servers."
    )
    assert plain(md).startswith("Goal: Turn") and "**" not in plain(md) and "\n- " not in plain(md)
    assert "\nNotes stay on our servers." in plain(md) and plain("`idx__cols` - 3 - 4") == "`idx__cols` - 3 - 4"
    found = {f.fact: f for f in reader.extract(md)}
    assert found["examples"].value == 1250
    assert found["examples"].evidence == "1,250 service reports approved by the field lead, each with its visit notes."
    assert found["prompting"].value == "fell_short"


# ---- the fact travels: five-step table, confirm list, --json, the LLM interviewer's schema ----------------------

BAD_DATA_GOAL = (
    "Route support tickets to 14 queues. A careful prompt with five examples gets 70%, not enough. We have 9,000 "
    "labelled tickets, but the three teams who labelled them disagree constantly (kappa 0.4)."
)


def test_bad_data_reaches_the_json_and_the_screen(monkeypatch):
    import json

    from typer.testing import CliRunner

    from agent.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    args = ["plan", "--goal", BAD_DATA_GOAL, "--non-interactive", "--today", "2026-12-06"]
    out = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert out["recommendation"]["approach"] == "collect_more_data"
    assert out["plan"]["collect"]["quality"] == "low_agreement" and out["plan"]["collect"]["raw"] == 9000
    screen = " ".join(runner.invoke(app, args).stdout.split())
    assert "9000; the examples are labelled with low agreement" in screen  # the five-step table's step 3
    assert "Collect: 9,000 examples are labelled with low agreement, so none counts as good yet" in screen


def test_the_confirm_list_and_the_llm_schema_name_the_quality():
    from agent.interviewer.llm import fact_lines
    from graphs.confirm import modifier_words

    assert modifier_words("data_quality", "inputs_only") == "the examples are inputs without the wanted outputs"
    assert modifier_words("data_quality", "good") is None  # "400 good examples" says it already
    assert "data_quality" in fact_lines() and "low_agreement" in fact_lines()


# ---- the interactive flow: what it asks, and what the benchmark's simulated person answers ---------------------


def _entry(value, how="stated", confidence=1.0):
    return {"value": value, "source": how, "evidence": "…", "confidence": confidence}


def test_a_step_asks_confirms_keeps_or_skips_as_the_recommendation_needs():
    from graphs.interview import step_move

    sure = {"prompting": _entry("fell_short"), "problem": _entry("behaviour")}
    assert step_move("problem", sure, "open")[1] == "keep"
    unsure = {**sure, "problem": _entry("behaviour", "inferred", 0.5)}
    assert step_move("problem", unsure, "open")[1] == "confirm"  # knowledge would make it RAG: worth a question
    assert step_move("examples", sure, "open") == (None, "ask")  # unread, and the count decides fine-tune or collect
    knowledge = {"problem": _entry("knowledge")}
    assert step_move("stable", knowledge, "open") == (None, "skip")  # a knowledge gap is RAG whatever the pace


def test_the_simulated_person_answers_only_what_is_asked():
    from benchmarks.interview_accuracy import ask_as

    labels = {"prompting": "fell_short", "problem": "knowledge", "examples": None, "stable": True}
    facts = {"prompting": _entry("not_tried"), "behaviour": _entry(True, "inferred", 0.5)}
    asked = ask_as(labels, facts)
    # A stated prompting reading is kept even though it is wrong (the person is not asked); the unsure behaviour cue
    # is confirmed and answered "knowledge", after which the rest cannot change the recommendation (RAG).
    assert asked == ["problem"]
    assert facts["prompting"]["value"] == "not_tried"
    assert facts["problem"] == {**_entry("knowledge", "asked"), "evidence": "the person's answer"}


def test_the_benchmark_counts_the_questions_of_the_interactive_flow():
    from benchmarks.interview_accuracy import score

    class Reader:  # a reader that finds nothing: every fact that matters is asked
        def extract(self, text, focus=None):
            return []

    item = {"id": "x-1", "goal": "help", "labels": {"prompting": "fell_short", "problem": "behaviour", "examples": 800}}
    quiet = score([item], Reader())
    asked = score([item], Reader(), ask=True)
    assert sum(quiet["asked"].values()) == 0 and quiet["approach_accuracy"] == 0.0  # assumed not tried: prompt first
    assert asked["approach_accuracy"] == 1.0 and asked["asked"]["prompting"] == 1 and asked["asked"]["examples"] == 1


# ---- reading cost and the corpus files -------------------------------------------------------------------------


def test_a_goal_s_sentences_are_embedded_once_for_both_passes():
    from tests.fakes.hash_embedder import HashEmbedder

    class Counting(HashEmbedder):
        def __init__(self) -> None:
            super().__init__(dimension=H.DIM)
            self.seen: list[str] = []

        def embed(self, texts, batch_size=64):
            self.seen.extend(texts)
            return super().embed(texts)

    model = Counting()
    reader = OfflineInterviewer(model, heads=None)
    reader.load_bank()
    goal = "Our replies sound stiff. We have 900 approved replies from our best agent."
    before = len(model.seen)
    reader.extract(goal)
    said, (vectors, numbers, windows) = reader.goal_parts(goal)
    read = model.seen[before:]
    assert said and numbers and len(read) == len(set(read))  # no text embedded twice
    assert np.allclose(vectors, HashEmbedder(dimension=H.DIM).embed(said))


def test_a_missing_corpus_file_is_named_not_a_traceback(tmp_path):
    from agent.interviewer.train_heads import CorpusError, load_items, prepare_all

    with pytest.raises(CorpusError, match="nowhere.jsonl: cannot be read"):
        load_items(tmp_path / "nowhere.jsonl")
    with pytest.raises(CorpusError, match="nowhere.jsonl"):  # training without an author is never silent
        prepare_all({"X-nowhere": tmp_path / "nowhere.jsonl"}, rules=None, jobs=2)


def test_the_benchmark_reads_step_1_from_the_numbers_after_the_heads_as_the_reader_does():
    from agent.interviewer.train_heads import prepare
    from benchmarks.interview_accuracy import read_prepared
    from tests.fakes.hash_embedder import HashEmbedder

    goal = "Our summariser prompt gets 75% of summaries accepted; editors need 95% before launch."
    item = {"id": "x-1", "goal": goal, "labels": {"prompting": "fell_short", "problem": "behaviour"}}
    [p] = prepare(OfflineInterviewer(HashEmbedder(dimension=H.DIM), heads=None), "X", [item])
    sure_wrong = heads(0.3, prompting=("good_enough", 0.99))  # a head sure enough to overrule a stated rule
    assert revise(goal, p.findings, sure_wrong)["prompting"].value == "good_enough"
    facts, _, _ = read_prepared(sure_wrong, BANK)(p)
    assert facts.prompting == "fell_short"  # the numbers outrank the heads, in the benchmark as in extract()
