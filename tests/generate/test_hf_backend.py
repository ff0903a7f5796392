"""The transformers generation backend against a plain reference: one prompt at a time, the whole
sequence re-run without a cache at every step, log-probs recomputed from those logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gen_helpers import PROMPTS

from runners.generate import Sampling, generator, prompt_ids


def reference_logprob(logits: np.ndarray, token: int, temperature: float, top_p: float) -> float:
    """log p(token) written directly from the definitions, in float64 numpy."""
    if temperature == 0:
        z = logits - logits.max()
        return float(z[token] - np.log(np.exp(z).sum()))
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    kept, mass = [], 0.0
    for t in order:  # the smallest prefix of the most likely tokens whose mass reaches top_p
        kept.append(t)
        mass += p[t]
        if mass >= top_p:
            break
    if token not in kept:
        return -math.inf
    return float(np.log(p[token] / p[kept].sum()))


def full_logits(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].double().numpy()


def test_greedy_batched_cache_matches_uncached_one_by_one(tiny):
    _, model, tok = tiny
    gen = generator(model, tokenizer=tok, batch_size=4)
    res = gen.generate(PROMPTS, Sampling(temperature=0, max_new_tokens=12), progress=False)
    assert res.new_tokens > 0
    for p, row in zip(PROMPTS, res.completions, strict=True):
        c = row[0]
        ids = prompt_ids(tok, p)
        for k, t in enumerate(c.token_ids):
            logits = full_logits(model, ids + c.token_ids[:k])
            assert t == int(np.argmax(logits)), (p, k)
            assert c.logprobs[k] == pytest.approx(reference_logprob(logits, t, 0, 1), abs=2e-4)
        assert c.finish_reason in ("length", "eos")
        if c.finish_reason == "length":
            assert len(c.token_ids) == 12


@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 0.9)])
def test_logprobs_are_those_of_the_sampling_distribution(tiny, temperature, top_p):
    _, model, tok = tiny
    gen = generator(model, tokenizer=tok, batch_size=8)
    res = gen.generate(PROMPTS[1:3], Sampling(temperature=temperature, top_p=top_p, max_new_tokens=8, n=2, seed=3),
                       progress=False)
    for p, row in zip(PROMPTS[1:3], res.completions, strict=True):
        for c in row:
            ids = prompt_ids(tok, p)
            for k, t in enumerate(c.token_ids):
                want = reference_logprob(full_logits(model, ids + c.token_ids[:k]), t, temperature, top_p)
                assert math.isfinite(want), "sampled a token outside the top-p set"
                assert c.logprobs[k] == pytest.approx(want, abs=2e-4)


def _tokens(res):
    return [[c.token_ids for c in row] for row in res.completions]


def test_seed_reaches_the_sampler_and_batch_size_does_not_matter(tiny):
    _, model, tok = tiny
    s = Sampling(temperature=1.0, max_new_tokens=16, n=3, seed=11)
    a = generator(model, tokenizer=tok, batch_size=32).generate(PROMPTS, s, progress=False)
    b = generator(model, tokenizer=tok, batch_size=32).generate(PROMPTS, s, progress=False)
    c = generator(model, tokenizer=tok, batch_size=4).generate(PROMPTS, s, progress=False)
    d = generator(model, tokenizer=tok, batch_size=7).generate(PROMPTS, s, progress=False)
    other = generator(model, tokenizer=tok, batch_size=32).generate(
        PROMPTS, Sampling(temperature=1.0, max_new_tokens=16, n=3, seed=12), progress=False)
    assert _tokens(a) == _tokens(b) == _tokens(c) == _tokens(d)
    assert [x.text for row in a.completions for x in row] == [x.text for row in c.completions for x in row]
    diff = sum(x != y for ra, ro in zip(_tokens(a), _tokens(other), strict=True) for x, y in zip(ra, ro, strict=True))
    assert diff >= len(PROMPTS) * 3 - 2, "another seed should give other samples"
    # the n samples of one prompt differ from each other, and raising n keeps the first ones
    assert len({tuple(t) for t in _tokens(a)[0]}) == 3
    more = generator(model, tokenizer=tok).generate(PROMPTS, Sampling(temperature=1.0, max_new_tokens=16, n=5, seed=11),
                                                   progress=False)
    assert [row[:3] for row in _tokens(more)] == _tokens(a)


def test_tiny_top_p_is_greedy(tiny):
    _, model, tok = tiny
    gen = generator(model, tokenizer=tok)
    greedy = gen.generate(PROMPTS, Sampling(temperature=0, max_new_tokens=10), progress=False)
    nucleus = gen.generate(PROMPTS, Sampling(temperature=1.0, top_p=1e-9, max_new_tokens=10, seed=5), progress=False)
    assert _tokens(greedy) == _tokens(nucleus)
    assert all(lp == 0.0 for row in nucleus.completions for lp in row[0].logprobs)  # one token kept: p = 1


def test_stop_strings_and_eos(tiny):
    _, model, tok = tiny
    gen = generator(model, tokenizer=tok)
    base = gen.generate(PROMPTS[:1], Sampling(temperature=0, max_new_tokens=20), progress=False).completions[0][0]
    text = base.text
    assert len(text) > 6
    stop = text[3:6]
    cut = gen.generate(PROMPTS[:1], Sampling(temperature=0, max_new_tokens=20, stop=(stop,)), progress=False)
    c = cut.completions[0][0]
    assert c.finish_reason == "stop"
    assert c.text == text[: text.index(stop)]
    assert c.token_ids == base.token_ids[: len(c.token_ids)]
    assert stop in tok.decode(c.token_ids) and stop not in tok.decode(c.token_ids[:-1])

    # the model's EOS ends a completion: make the 3rd greedy token the EOS id
    eos = base.token_ids[2]
    old = model.config.eos_token_id
    model.config.eos_token_id = eos
    try:
        res = generator(model, tokenizer=tok).generate(PROMPTS[:1], Sampling(temperature=0, max_new_tokens=20),
                                                       progress=False)
    finally:
        model.config.eos_token_id = old
    c = res.completions[0][0]
    first = base.token_ids.index(eos)
    assert c.finish_reason == "eos"
    assert c.token_ids == base.token_ids[: first + 1]
    assert c.text == tok.decode(base.token_ids[:first])


def test_chat_prompts_use_the_template(tiny):
    _, model, tok = tiny
    msgs = [{"role": "user", "content": "hello there"}]
    ids = prompt_ids(tok, msgs)
    assert tok.decode(ids) == "<|user|>\nhello there\n<|assistant|>\n"
    res = generator(model, tokenizer=tok).generate([msgs], Sampling(temperature=0, max_new_tokens=4), progress=False)
    assert res.prompt_token_ids == [ids]


def test_in_memory_model_is_used_live_and_its_mode_restored(tiny):
    from gen_helpers import build_model

    _, _, tok = tiny
    learner = build_model(len(tok), tok.eos_token_id, seed=1)
    learner.train()
    gen = generator(learner, tokenizer=tok)
    s = Sampling(temperature=0, max_new_tokens=10)
    before = _tokens(gen.generate(PROMPTS, s, progress=False))
    assert learner.training
    with torch.no_grad():  # an optimizer step, as RL makes between two sampling rounds
        for p in learner.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    after = _tokens(gen.generate(PROMPTS, s, progress=False))
    assert before != after


def test_loads_a_saved_folder_and_reports_speed(tiny, capsys):
    folder, model, tok = tiny
    from_disk = generator(str(folder)).generate(PROMPTS, Sampling(temperature=0, max_new_tokens=8), progress=True,
                                                desc="gen-test")
    in_memory = generator(model, tokenizer=tok).generate(PROMPTS, Sampling(temperature=0, max_new_tokens=8),
                                                         progress=False)
    assert _tokens(from_disk) == _tokens(in_memory)
    st = from_disk.stats()
    assert st["completions"] == len(PROMPTS) and st["new_tokens"] == from_disk.new_tokens > 0
    assert st["tokens_per_s"] > 0
    assert "gen-test" in capsys.readouterr().err  # the progress bar


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(ValueError, match="backend"):
        generator("x", backend="tgi")
