"""Social captions: the sample post on every platform, checked with counters written here
independently of newsletter.captions; settings; Unicode properties; the CLI and the build files.

Regenerate the golden file with `make golden` (NEWSLETTER_UPDATE_GOLDEN=1 pytest -k golden).
"""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from newsletter.build import _write_captions, write_build
from newsletter.captions import (
    PLATFORMS,
    RULES,
    camel_hashtag,
    caption_for,
    caption_length,
    captions_for_issue,
    captions_json,
)
from newsletter.citations import CITATION_RE
from newsletter.cli import main
from newsletter.config import Settings, settings_from_dict
from newsletter.errors import ConfigError, NewsletterError
from newsletter.links import social_link
from newsletter.model import Post, Section, paragraph
from newsletter.readers import read_post
from newsletter.series import split_post

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "posts" / "massage-for-the-mental-health-of-it.txt"
GOLDEN = ROOT / "tests" / "golden" / "captions-sample.json"
CAMPAIGN = "massage-for-the-mental-health-of-it"

# The limits as the issue states them, written out again so a wrong table fails a test.
LIMITS = {
    "x": 280,
    "bluesky": 300,
    "mastodon": 500,
    "threads": 500,
    "linkedin": 3000,
    "instagram": 2200,
    "facebook": 63206,
}
MAX_HASHTAGS = {"threads": 1, "linkedin": 3, "instagram": 5}

# --- independent counters (deliberately not sharing code with newsletter.captions) -------------

_GRAPHEME = regex.compile(r"\X")
_URL = regex.compile(r"https?://[A-Za-z0-9\-._~/?#\[\]@!$&'()*+,;=%]+")
_HASHTAG = regex.compile(r"(?:^|\s)#([\p{L}\p{N}_]+)")


def graphemes(text: str) -> list[str]:
    return list(_GRAPHEME.findall(text))


def url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _URL.finditer(text):
        end = m.end()
        while text[end - 1] in ".,;:!?'\")]":
            end -= 1
        spans.append((m.start(), end))
    return spans


def is_emoji(cluster: str) -> bool:
    """An emoji as twitter-text and Threads see one: presentation emoji, flags, keycaps, VS16."""
    return any(
        regex.match(r"\p{Emoji_Presentation}|\p{Regional_Indicator}", ch) or ch in "\ufe0f\u20e3"
        for ch in cluster
    )


def x_weight(text: str) -> int:
    """twitter-text v3 rules: NFC; code points in the Latin-ish ranges weigh 1, others 2; an
    emoji sequence 2; every URL 23."""
    text = unicodedata.normalize("NFC", text)

    def plain(part: str) -> int:
        total = 0
        for cluster in graphemes(part):
            if is_emoji(cluster):
                total += 2
                continue
            for ch in cluster:
                cp = ord(ch)
                light = cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247
                total += 1 if light else 2
        return total

    total, pos = 0, 0
    for start, end in url_spans(text):
        total += plain(text[pos:start]) + 23
        pos = end
    return total + plain(text[pos:])


def mastodon_length(text: str) -> int:
    total, pos = 0, 0
    for start, end in url_spans(text):
        total += len(graphemes(text[pos:start])) + 23
        pos = end
    return total + len(graphemes(text[pos:]))


def utf16_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def threads_length(text: str) -> int:
    return sum(len(c.encode("utf-8")) if is_emoji(c) else utf16_units(c) for c in graphemes(text))


INDEPENDENT = {
    "x": x_weight,
    "bluesky": lambda t: len(graphemes(t)),
    "mastodon": mastodon_length,
    "threads": threads_length,
    "linkedin": utf16_units,
    "instagram": utf16_units,
    "facebook": utf16_units,
}


def hashtags(caption: str) -> list[str]:
    return list(_HASHTAG.findall(caption))


def plain_text(text: str) -> str:
    """Issue text as a caption may quote it: citation markers out, single spaces."""
    text = CITATION_RE.sub("", unicodedata.normalize("NFC", text))
    return str(regex.sub(r" +([,.;:!?])", r"\1", regex.sub(r"\s+", " ", text))).strip()


def assert_within_rules(platform: str, caption: str, limit: int | None = None) -> None:
    limit = limit or LIMITS[platform]
    assert INDEPENDENT[platform](caption) <= limit, (platform, caption)
    assert caption_length(platform, caption) <= limit, (platform, caption)
    if platform == "x":
        assert parse_tweet(caption).weightedLength <= limit
    if platform == "bluesky":
        assert len(caption.encode("utf-8")) <= 3000
    if platform == "threads":
        assert len({caption[a:b] for a, b in url_spans(caption)}) <= 5
    if platform == "instagram":
        assert not url_spans(caption) and "://" not in caption and "link in bio" in caption
    assert len(hashtags(caption)) <= MAX_HASHTAGS.get(platform, 5), (platform, caption)


# --- the sample post -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Any:
    return split_post(read_post(str(SAMPLE)))


@pytest.fixture(scope="module")
def sample_captions(sample: Any) -> dict[int, dict[str, str]]:
    settings = Settings()
    return {i.number: captions_for_issue(sample, i, settings) for i in sample.issues}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_sample_caption_fits_and_reads_whole(
    sample: Any, sample_captions: dict[int, dict[str, str]], number: int, platform: str
) -> None:
    caption = sample_captions[number][platform]
    issue = sample.issues[number - 1]
    assert_within_rules(platform, caption)
    # On plain English text the independent counter and the platform counter agree exactly.
    assert INDEPENDENT[platform](caption) == caption_length(platform, caption)
    if platform == "instagram":
        assert "Read more: link in bio" in caption
    else:
        link = (
            f"https://example.com/?utm_source={platform}&utm_medium=social&utm_campaign={CAMPAIGN}"
        )
        assert link in caption.split()
    assert f"Part {number} of 5" in caption or f"part {number} of 5" in caption
    assert not CITATION_RE.search(caption), caption
    assert "he second mechanism" not in caption  # the scraped fragment with a lost drop cap
    # The hook and the point are whole sentences of the issue's own text, and nothing is cut.
    text = plain_text(issue.text)
    body = caption.split("\n\n")[: -2 if hashtags(caption) else -1]
    for paragraph_text in body:
        assert "…" not in paragraph_text
        sentences = regex.split(r"(?<=[.!?][\"”]?) ", paragraph_text)
        for sentence in sentences:
            assert sentence in text, sentence
            start = text.index(sentence)
            assert start == 0 or text[start - 1] == " "
            assert text[start + len(sentence) - 1] in '.!?"”'
    # It ends on a whole hashtag taken from the settings.
    assert caption.split()[-1] in {"#MentalHealth", "#Massage"}


def test_sample_hooks_come_from_the_issue(sample_captions: dict[int, dict[str, str]]) -> None:
    hooks = {n: caps["x"].split("\n\n")[0] for n, caps in sample_captions.items()}
    assert hooks[2] == (
        "Massage therapy has been documented to decrease cortisol levels and increase serotonin "
        "and dopamine."
    )
    assert "sleep" in hooks[1].lower() and "pain" in hooks[3].lower()
    assert "body awareness" in hooks[5]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_two_issues_share_a_caption(
    sample_captions: dict[int, dict[str, str]], platform: str
) -> None:
    captions = [caps[platform] for caps in sample_captions.values()]
    hooks = [c.split("\n\n")[0] for c in captions]
    assert len(set(captions)) == len(captions) == 5
    assert len(set(hooks)) == 5


def test_longer_platforms_carry_the_point_and_the_series(
    sample_captions: dict[int, dict[str, str]],
) -> None:
    for caps in sample_captions.values():
        assert caps["linkedin"].count("\n\n") >= 3  # hook, point, context + link, hashtags
        assert len(caps["linkedin"].split("\n\n")[0]) <= 200  # the hook shows before "see more"
        assert "From “Massage for the (mental) Health of It”, part" in caps["linkedin"]
        assert len(caps["facebook"].split("\n\n", 2)[0] + caps["facebook"].split("\n\n")[1]) < 480


def test_captions_golden(sample: Any) -> None:
    """The sample's captions, reviewed as a diff; NEWSLETTER_UPDATE_GOLDEN=1 rewrites them."""
    data = captions_json(sample, Settings())
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("NEWSLETTER_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run `make golden`"
    assert json.loads(GOLDEN.read_text(encoding="utf-8")) == data


def test_captions_json_shape(sample: Any) -> None:
    data = captions_json(sample, Settings())
    assert list(data) == ["issues"]
    assert [i["number"] for i in data["issues"]] == [1, 2, 3, 4, 5]
    for item in data["issues"]:
        assert list(item) == ["number", "captions"]
        assert list(item["captions"]) == list(PLATFORMS)
        assert all(isinstance(v, str) and v for v in item["captions"].values())


# --- counting ----------------------------------------------------------------------------------


def test_rules_table_matches_the_issue() -> None:
    assert PLATFORMS == ("x", "bluesky", "mastodon", "threads", "linkedin", "instagram", "facebook")
    assert {p: RULES[p].limit for p in PLATFORMS} == LIMITS


def test_caption_length_counts_each_platforms_way() -> None:
    assert caption_length("x", "english text 日本語 😷 https://example.com") == 46
    assert caption_length("x", "e\u0301") == 1  # NFC: one é
    assert caption_length("x", "https://example.com/" + "a" * 200) == 23
    family_flag = "👨‍👩‍👧‍👦🇫🇷"
    assert caption_length("bluesky", family_flag) == 2
    assert caption_length("bluesky", "https://example.com/" + "a" * 200) == 220
    assert caption_length("mastodon", "see https://example.com/" + "a" * 200) == 4 + 23
    assert caption_length("mastodon", family_flag) == 2
    assert caption_length("threads", "😀") == 4 and caption_length("threads", "ab") == 2
    assert caption_length("linkedin", "😀") == 2 and caption_length("facebook", "é") == 1
    with pytest.raises(NewsletterError, match="x, bluesky, mastodon"):
        caption_length("tiktok", "hello")


# --- settings: link, UTM, hashtags, limits ------------------------------------------------------


def _post(**kw: Any) -> Post:
    sections = kw.pop(
        "sections",
        (
            Section("Slow Breathing", (paragraph("Slow breathing calms the nervous system."),)),
            Section("Warm Hands", (paragraph("Warm hands help muscles let go of tension."),)),
        ),
    )
    return Post(
        title=kw.pop("title", "Calm Body, Calm Mind"), source="t.md", sections=sections, **kw
    )


def test_link_prefers_social_link_then_post_url_then_site() -> None:
    series = split_post(_post(url="https://blog.example.org/calm"))
    defaults = Settings()
    assert social_link(series, defaults, "x") == (
        "https://blog.example.org/calm?utm_source=x&utm_medium=social&utm_campaign=calm-body-calm-mind"
    )
    own = settings_from_dict(
        {"social": {"link": "https://example.net/p?ref=nl#top", "utm_campaign": "spring"}}
    )
    assert social_link(series, own, "bluesky") == (
        "https://example.net/p?ref=nl&utm_source=bluesky&utm_medium=social&utm_campaign=spring#top"
    )
    bare = split_post(_post())
    assert social_link(bare, defaults, "threads").startswith(
        "https://example.com/?utm_source=threads"
    )
    off = settings_from_dict({"social": {"utm": False}})
    assert social_link(bare, off, "x") == "https://example.com"
    for platform in PLATFORMS:
        assert "utm_" not in caption_for(bare, bare.issues[0], platform, off)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"social": {"link": "ftp://example.com/x"}}, "[social] link"),
        ({"social": {"link": "https://exa mple.com/"}}, "[social] link"),
        ({"newsletter": {"site_url": "example.com"}}, "[newsletter] site_url"),
    ],
)
def test_bad_link_names_the_setting(data: dict[str, Any], where: str) -> None:
    series = split_post(_post())
    with pytest.raises(ConfigError, match=regex.escape(where)):
        caption_for(series, series.issues[0], "x", settings_from_dict(data, source="nl.toml"))


def test_bad_front_matter_url_names_the_post() -> None:
    series = split_post(_post(url="javascript:alert(1)"))
    with pytest.raises(ConfigError, match=r"t\.md: front matter url"):
        caption_for(series, series.issues[0], "x", Settings())


def test_hashtags_are_camel_case_and_capped_per_platform() -> None:
    tags = ("mental health", "self-care", "massage therapy", "sleep", "stress relief", "anxiety")
    series = split_post(_post(tags=tags))
    issue = series.issues[0]
    caps = captions_for_issue(series, issue, Settings())
    assert hashtags(caps["instagram"]) == [
        "MentalHealth",
        "SelfCare",
        "MassageTherapy",
        "Sleep",
        "StressRelief",
    ]
    assert hashtags(caps["linkedin"]) == ["MentalHealth", "SelfCare", "MassageTherapy"]
    assert hashtags(caps["threads"]) == ["MentalHealth"]
    assert hashtags(caps["x"]) == ["MentalHealth", "SelfCare"]
    for platform, caption in caps.items():
        assert_within_rules(platform, caption)
    # Without tags of its own, a post uses the settings' hashtags.
    plain = split_post(_post())
    own = settings_from_dict({"social": {"hashtags": ["body work", "Calm"]}})
    assert hashtags(caption_for(plain, plain.issues[0], "mastodon", own)) == ["BodyWork", "Calm"]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("mental health", "MentalHealth"),
        ("#self-care", "SelfCare"),
        ("MentalHealth", "MentalHealth"),
        ("iPhone tips", "iPhoneTips"),
        ("santé mentale", "SantéMentale"),
        ("❤️ love", "Love"),
        ("2024", ""),
        ("  ", ""),
    ],
)
def test_camel_hashtag(tag: str, expected: str) -> None:
    assert camel_hashtag(tag) == expected


def test_limits_override_from_settings(sample: Any) -> None:
    issue = sample.issues[0]
    roomy = settings_from_dict({"social": {"limits": {"mastodon": 1000}}})
    tight = settings_from_dict({"social": {"limits": {"x": 140, "bluesky": 200}}})
    assert caption_length("mastodon", caption_for(sample, issue, "mastodon", roomy)) <= 1000
    for platform, limit in (("x", 140), ("bluesky", 200)):
        caption = caption_for(sample, issue, platform, tight)
        assert_within_rules(platform, caption, limit)
        assert "Part 1 of 5" in caption
    with pytest.raises(ConfigError, match=r"limits\.tiktok is not a platform .*x, bluesky"):
        caption_for(sample, issue, "x", settings_from_dict({"social": {"limits": {"tiktok": 9}}}))
    with pytest.raises(ConfigError, match=r"\[social\] limits\.x = 20 leaves no room"):
        caption_for(sample, issue, "x", settings_from_dict({"social": {"limits": {"x": 20}}}))


# --- shaping the text -------------------------------------------------------------------------

LONG = (
    "When the evening routine slows down, the shoulders drop, the jaw loosens, the breath "
    "lengthens and deepens, the heart rate settles into a calmer rhythm, the mind stops "
    "rehearsing tomorrow's meetings, and the whole body finally gets the signal that it is "
    "safe to rest, recover and repair the small injuries of an ordinary working day at the desk."
)


def test_a_long_sentence_ends_on_a_whole_clause_with_an_ellipsis() -> None:
    post = _post(sections=(Section("Evening Routine", (paragraph(LONG),)),))
    series = split_post(post)
    tight = settings_from_dict({"social": {"limits": {"x": 200}}})
    caption = caption_for(series, series.issues[0], "x", tight)
    hook = caption.split("\n\n")[0]
    assert hook.endswith("…")
    prefix = hook.removesuffix("…")
    assert LONG.startswith(prefix) and LONG[len(prefix)] in ",;:"
    assert x_weight(caption) <= 200
    # With room for the whole sentence, it is used whole and without an ellipsis.
    roomy = caption_for(series, series.issues[0], "facebook", Settings())
    assert roomy.startswith(LONG + "\n\n") and "…" not in roomy
    # LinkedIn shows about 200 characters before "see more": the hook ends on a clause there.
    linkedin_hook = caption_for(series, series.issues[0], "linkedin", Settings()).split("\n\n")[0]
    assert len(linkedin_hook) <= 200 and linkedin_hook.endswith("…")


def test_shorter_whole_sentence_beats_a_cut_one() -> None:
    short = "A warm bath before bed helps the body settle and makes sleep come sooner."
    post = _post(sections=(Section("Evening Routine", (paragraph(f"{LONG} {short}"),)),))
    series = split_post(post)
    caption = caption_for(series, series.issues[0], "x", Settings())
    assert caption.startswith(short + "\n\n") and "…" not in caption


def test_boilerplate_and_fragments_are_never_the_hook() -> None:
    text = (
        "For more information on grounding click here. "
        "Grounding techniques calm the nervous system within minutes."
    )
    series = split_post(_post(sections=(Section("Grounding", (paragraph(text),)),)))
    for caption in captions_for_issue(series, series.issues[0], Settings()).values():
        assert "click here" not in caption
        assert caption.startswith("Grounding techniques calm the nervous system within minutes.")


def test_single_issue_has_no_part_count_and_controls_are_dropped() -> None:
    text = "Slow breathing\u202e calms the nervous system (4) within a few minutes."
    series = split_post(_post(sections=(Section("Breathe", (paragraph(text),)),)))
    for caption in captions_for_issue(series, series.issues[0], Settings()).values():
        assert "Part" not in caption and "part 1 of 1" not in caption
        assert "\u202e" not in caption and "(4)" not in caption
        assert "Slow breathing calms the nervous system within a few minutes." in caption


# --- property: any Unicode the author throws at it ---------------------------------------------

EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵🇰🇷", "1️⃣", "🧑🏽‍🦰", "❤️", "🫠", "👩🏿‍🔬"]
LETTERS = string.ascii_lowercase + "éüßñøçå"
CJK = "睡眠心健康漢字日本語中文한국어"

_word = st.text(alphabet=LETTERS, min_size=1, max_size=12)
_piece = st.one_of(
    _word,
    _word,
    _word.map(lambda w: w + ","),
    st.text(alphabet=LETTERS, min_size=40, max_size=400),  # long words
    st.text(alphabet=CJK, min_size=1, max_size=30),
    st.text(alphabet=string.ascii_letters + string.digits + "-_/", min_size=1, max_size=300).map(
        lambda path: "https://example.org/" + path
    ),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=5).map("".join),
)
_sentence = st.builds(
    lambda first, rest, end: first.capitalize() + "".join(" " + p for p in rest) + end,
    _word,
    st.lists(_piece, max_size=30),
    st.sampled_from([".", "!", "?", "。"]),
)
_paragraph = st.lists(_sentence, min_size=1, max_size=6).map(" ".join)
_title = st.one_of(
    _word.map(str.capitalize),
    st.text(alphabet=CJK, min_size=1, max_size=12),
    st.lists(st.sampled_from(EMOJI), min_size=1, max_size=3).map(lambda e: "Joy " + "".join(e)),
    st.text(alphabet=LETTERS, min_size=60, max_size=200),
)
_tags = st.lists(st.one_of(_word, st.text(alphabet=CJK, min_size=1, max_size=6)), max_size=7)


def _grapheme_bounds(text: str) -> set[int]:
    bounds, pos = {0}, 0
    for cluster in graphemes(text):
        pos += len(cluster)
        bounds.add(pos)
    return bounds


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    sections=st.lists(st.tuples(_title, _paragraph), min_size=1, max_size=3),
    post_title=_title,
    tags=_tags,
)
def test_property_no_caption_over_its_limit_or_cut_mid_grapheme(
    sections: list[tuple[str, str]], post_title: str, tags: list[str]
) -> None:
    post = Post(
        title=post_title,
        source="prop.md",
        sections=tuple(Section(t, (paragraph(p),)) for t, p in sections),
        tags=tuple(tags),
    )
    series = split_post(post)
    settings = Settings()
    for issue, (title, text) in zip(series.issues, sections, strict=True):
        source = unicodedata.normalize("NFC", text)
        tag_text = " ".join(camel_hashtag(t) for t in tags)
        known = set(graphemes(source + title + post_title + tag_text))
        for platform in PLATFORMS:
            caption = caption_for(series, issue, platform, settings)
            assert_within_rules(platform, caption)
            link = social_link(series, settings, platform)
            allowed = known | set(graphemes(link + "Part of From “”:, Read more link in bio…#"))
            allowed |= set(string.printable)
            for cluster in graphemes(caption):
                assert cluster in allowed, (platform, cluster, caption)
                assert cluster[-1] != "\u200d" and cluster[0] not in "\u200d\ufe0f"
            hook = caption.split("\n\n")[0]
            if hook.startswith(("Part ", "From “", "https://", "Read more")) or hook == title:
                continue
            cut = hook.endswith("…") and not source.count(hook)
            whole = hook.removesuffix("…") if cut else hook
            start = source.find(whole)
            assert start >= 0, (platform, hook)
            bounds = _grapheme_bounds(source)
            assert start in bounds and start + len(whole) in bounds, (platform, hook)
            if cut:  # "…" only where the text goes on, and only after a whole clause
                rest = source[start + len(whole) :]
                assert rest[:1] in ",;:、，；：" or rest[:2] in (" –", " —"), (platform, hook)


# --- the command line and the build -----------------------------------------------------------


@pytest.fixture
def no_config(tmp_path: Path) -> Path:
    """An empty settings file, so a developer's ./newsletter.toml cannot change the output."""
    path = tmp_path / "newsletter.toml"
    path.write_text("", encoding="utf-8")
    return path


def test_cli_one_issue_one_platform_prints_exactly_the_caption(
    sample: Any, no_config: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--config",
            str(no_config),
            "captions",
            str(SAMPLE),
            "--issue",
            "2",
            "--platform",
            "x",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == caption_for(sample, sample.issues[1], "x", Settings()) + "\n"


def test_cli_json_follows_the_stable_shape(
    sample: Any, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(no_config), "captions", str(SAMPLE), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == captions_json(sample, Settings())
    assert (
        main(
            [
                "--config",
                str(no_config),
                "captions",
                str(SAMPLE),
                "--json",
                "--issue",
                "3",
                "--platform",
                "Bluesky",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    caption = caption_for(sample, sample.issues[2], "bluesky", Settings())
    assert data == {"issues": [{"number": 3, "captions": {"bluesky": caption}}]}


def test_cli_readable_output_lists_every_caption_with_its_count(
    sample: Any, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(no_config), "captions", str(SAMPLE), "--issue", "4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== Issue 4 of 5: Regulation of the Parasympathetic")
    for platform, caption in captions_for_issue(sample, sample.issues[3], Settings()).items():
        assert (
            f"-- {platform}: {caption_length(platform, caption)} of {LIMITS[platform]} --\n" in out
        )
        assert caption in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--platform", "tiktok"],
            "unknown platform 'tiktok': choose one of x, bluesky, mastodon, "
            "threads, linkedin, instagram, facebook",
        ),
        (["--issue", "9"], "there is no issue 9: choose one of 1-5"),
    ],
)
def test_cli_unknown_platform_or_issue_is_one_line_naming_the_valid_ones(
    no_config: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    """A flag asking for what is not there is a usage error: exit status 2, one line."""
    assert main(["--config", str(no_config), "captions", str(SAMPLE), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in captured.err


def test_build_writes_captions_json_and_markdown(sample: Any, tmp_path: Path) -> None:
    _write_captions(sample, Settings(), tmp_path)
    data = json.loads((tmp_path / "captions.json").read_text(encoding="utf-8"))
    assert data == captions_json(sample, Settings())
    md = (tmp_path / "captions.md").read_text(encoding="utf-8")
    assert md.startswith("# Social captions: Massage for the (mental) Health of It\n")
    for item in data["issues"]:
        for platform, caption in item["captions"].items():
            assert f"```text\n{caption}\n```" in md
            assert f"{caption_length(platform, caption)} of {LIMITS[platform]}" in md


def test_write_build_includes_the_captions(sample: Any, tmp_path: Path) -> None:
    folder, _ = write_build(sample, Settings(), tmp_path)
    assert json.loads((folder / "captions.json").read_text(encoding="utf-8")) == captions_json(
        sample, Settings()
    )
    assert (folder / "captions.md").is_file()
