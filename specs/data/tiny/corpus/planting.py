"""What curation must find, planted on purpose, with the ground truth recorded by the caller.

- near duplicates: a few words replaced, inserted or deleted until the word-5-gram Jaccard with
  the original falls in [0.80, 0.95] (lowercased whitespace tokens, `text.jaccard`);
- boilerplate: one cookie banner and one site footer, each 600-1000 bytes, prepended/appended to
  many documents, so suffix-array substring dedup (minimum 500 bytes) has a repeated span;
- low-quality text: keyword lists, navigation menus, "click here" lines, SEO spam, and word salad
  from a seeded order-2 Markov chain over real prose, for the quality classifier and for the web;
- contamination: evaluation items lightly edited (case, punctuation, a word inserted or deleted,
  numbers always kept) and embedded in a page the way a worksheet site would show them.
"""

from __future__ import annotations

import random
import re

from .text import jaccard

HEADER = (
    "We value your privacy. This website uses cookies and similar technologies to improve your "
    "browsing experience, to show you personalized content and targeted ads, to analyze our site "
    "traffic, and to understand where our visitors are coming from. By clicking Accept All, you "
    "consent to our use of cookies. You can change your cookie settings at any time by clicking "
    "Cookie Preferences at the bottom of any page. To learn more about how we collect and use "
    "your personal information, please read our Privacy Policy and our Cookie Policy. Some "
    "cookies are strictly necessary for the site to work and cannot be switched off. "
    "[Accept All] [Reject All] [Cookie Preferences]"
)
FOOTER = (
    "About Us | Contact | Careers | Press | Advertise With Us | Terms of Use | Privacy Policy | "
    "Cookie Settings | Accessibility | Sitemap\n"
    "Subscribe to our newsletter to get the latest articles, tutorials and release notes delivered "
    "to your inbox every week. We never share your email address with third parties and you can "
    "unsubscribe at any time with one click.\n"
    "Follow us on social media for daily tips and updates. Copyright (c) 2009-2025 Example Media "
    "Group. All rights reserved. Reproduction in whole or in part without written permission is "
    "prohibited. All trademarks are the property of their respective owners."
)
assert 600 <= len(HEADER) <= 1000 and 600 <= len(FOOTER) <= 1000, (len(HEADER), len(FOOTER))

FILLER_WORDS = ["also", "really", "very", "quite", "simply", "often", "then", "still", "just", "now"]
SPAM_WORDS = ["cheap", "best", "free", "online", "deals", "discount", "buy", "sale", "offer", "top",
              "price", "casino", "loans", "pills", "download", "crack", "win", "prize", "bonus",
              "review", "2025", "official", "outlet", "fast", "shipping", "guaranteed"]
SPAM_THINGS = ["shoes", "watches", "phones", "laptops", "flights", "hotels", "insurance", "software",
               "vitamins", "sunglasses", "handbags", "jerseys", "tickets", "credit cards"]
MENU = ["Home", "About", "Products", "Services", "Blog", "News", "Shop", "Cart", "Login", "Register",
        "Contact", "FAQ", "Support", "Downloads", "Forum", "Gallery", "Events", "Careers", "Search"]


# ---------------------------------------------------------------- near duplicates

def near_duplicate(rng: random.Random, text: str, vocab: list[str], lo: float = 0.80, hi: float = 0.95):
    """(edited text, jaccard, number of edits) or None if the target band was overshot."""
    words = text.split(" ")
    n_edits = 0
    while True:
        k = rng.randrange(len(words))
        kind = rng.choice(["replace", "insert", "delete"])
        if kind == "replace":
            words[k] = rng.choice(vocab)
        elif kind == "insert":
            words.insert(k, rng.choice(vocab))
        elif len(words) > 20:
            del words[k]
        n_edits += 1
        new = " ".join(words)
        j = jaccard(text, new)
        if j <= hi:
            return (new, round(j, 4), n_edits) if j >= lo else None


# ---------------------------------------------------------------- low-quality text

class Markov:
    """Order-2 word Markov chain; keys are kept in insertion order, so sampling is deterministic."""

    def __init__(self, paragraphs: list[str]):
        self.next: dict[tuple[str, str], list[str]] = {}
        for p in paragraphs:
            w = p.split()
            for i in range(len(w) - 2):
                self.next.setdefault((w[i], w[i + 1]), []).append(w[i + 2])
        self.starts = [k for k in self.next if k[0][:1].isupper()]

    def salad(self, rng: random.Random, n: int) -> str:
        key = rng.choice(self.starts)
        out = list(key)
        while len(out) < n:
            nxt = self.next.get(key)
            if not nxt or rng.random() < 0.08:  # restart often: fluent locally, nonsense overall
                key = rng.choice(self.starts)
                out.extend(key)
                continue
            out.append(rng.choice(nxt))
            key = (out[-2], out[-1])
        return " ".join(out)


LOW_QUALITY_KINDS = ["keywords", "menu", "click_here", "seo", "word_salad", "listing"]


def low_quality(rng: random.Random, kind: str, chain: Markov) -> str:
    if kind == "keywords":
        thing = rng.choice(SPAM_THINGS)
        words = [f"{rng.choice(SPAM_WORDS)} {thing}" for _ in range(rng.randint(12, 40))]
        return ", ".join(words) + ", " + " ".join(rng.sample(SPAM_WORDS, 6))
    if kind == "menu":
        lines = [" | ".join(rng.sample(MENU, rng.randint(4, 9))) for _ in range(rng.randint(3, 8))]
        lines.append(f"Page {rng.randint(1, 9)} of {rng.randint(10, 99)}  << Prev  Next >>")
        return "\n".join(lines)
    if kind == "click_here":
        thing = rng.choice(SPAM_THINGS)
        line = rng.choice(["Click here to download now!!!", f"CLICK HERE for free {thing}!!!",
                           "Click here >>> limited offer <<<", f"Click here to win {thing} today"])
        site = f"www.best-{thing.replace(' ', '-')}-{rng.randint(10, 999)}.example"
        return "\n".join([line] * rng.randint(4, 12) + [f"Visit {site} now"])
    if kind == "seo":
        thing = rng.choice(SPAM_THINGS)
        sents = [f"Buy {rng.choice(SPAM_WORDS)} {thing} online at the best price.",
                 f"Our {thing} are the {rng.choice(['best', 'cheapest', 'top rated'])} {thing} in 2025.",
                 f"Looking for {thing}? We have {thing} for everyone who needs {thing}.",
                 f"{thing.capitalize()} {thing} {thing} discount {thing} free shipping.",
                 f"Order {thing} now and get a {rng.randint(10, 90)}% discount!!!"]
        return " ".join(rng.choice(sents) for _ in range(rng.randint(5, 12)))
    if kind == "word_salad":
        return chain.salad(rng, rng.randint(40, 160))
    if kind == "listing":
        rows = [f"SKU {rng.randint(10000, 99999)} - {rng.choice(SPAM_THINGS)} - ${rng.randint(1, 999)}.99 "
                f"- {rng.choice(['in stock', 'sold out', 'ships in 2 days'])}" for _ in range(rng.randint(5, 15))]
        return "\n".join(rows)
    raise ValueError(kind)


# ---------------------------------------------------------------- contamination

EDITS = ["lowercase", "uppercase_first_word", "drop_question_mark", "insert_word", "delete_word",
         "extra_spaces", "add_prefix"]


def edit_question(rng: random.Random, q: str) -> tuple[str, list[str]]:
    """A light edit of an evaluation question; the numbers are never touched."""
    applied = rng.sample(EDITS, rng.randint(1, 2))
    for e in applied:
        words = q.split(" ")
        plain = [i for i, w in enumerate(words) if w.isalpha() and i > 0]
        if e == "lowercase":
            q = q.lower()
        elif e == "uppercase_first_word":
            words[0] = words[0].upper()
            q = " ".join(words)
        elif e == "drop_question_mark":
            q = q.replace("?", "", 1)
        elif e == "insert_word" and plain:
            words.insert(rng.choice(plain), rng.choice(FILLER_WORDS))
            q = " ".join(words)
        elif e == "delete_word" and plain:
            del words[rng.choice(plain)]
            q = " ".join(words)
        elif e == "extra_spaces":
            q = re.sub(r"([.?,]) ", r"\1  ", q)
        elif e == "add_prefix":
            q = rng.choice(["Question: ", "Q. ", "Problem: "]) + q
    return q, applied
