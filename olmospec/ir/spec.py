"""The resolved spec: every block of a `.ospec` file as a frozen, validated pydantic object.

Names are kept as strings (references are checked by resolve.py, so a `Stage.data` here always
names an existing mix, source or curation). Quantities are in base units: token counts as ints,
shares and percentages as fractions, repetition factors as floats.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from olmospec.ir.base import Frozen
from olmospec.ir.model import ModelConfig, YarnConfig
from olmospec.ir.train import OptimizerConfig

# Paths with these prefixes live in remote storage: never DVC file dependencies, never rebased.
REMOTE_PREFIXES = ("s3://", "gs://", "gcs://", "hf://", "http://", "https://", "weka://", "r2://")


class TokenizerTrain(Frozen):
    algorithm: Literal["bpe"] = "bpe"
    vocab: int
    sources: tuple[str, ...]
    min_frequency: int = 2
    split_digits: bool = True
    max_docs: int | None = None


class Tokenizer(Frozen):
    name: str
    path: str | None = None  # a local folder or an HF id
    train: TokenizerTrain | None = None
    vocab: int | None = None
    pad_to: int = 1


class Source(Frozen):
    name: str
    path: str | None = None  # a local file, folder or glob (jsonl, jsonl.gz, jsonl.zst, parquet)
    dataset: str | None = None  # an HF dataset id or a local `save_to_disk` folder
    split: str = "train"
    format: Literal["auto", "jsonl", "parquet", "hf"] = "auto"
    text: str = "text"
    id: str = "id"
    tokens: int | None = None  # declared size, used when no manifest exists yet
    docs: int | None = None
    license: str | None = None


class ExactStep(Frozen):
    kind: Literal["exact"] = "exact"
    normalize: Literal[True] = True  # NFC, lowercase, collapsed whitespace (runners/curation/normalize.py)
    keep: Literal["first", "newest"] = "first"  # newest: the copy with the greatest `date` (OLMo 3)
    date: str = "date"  # the document field holding the crawl date (ISO 8601), for keep = newest


class MinhashStep(Frozen):
    kind: Literal["minhash"] = "minhash"
    ngram: int = 5
    permutations: int | None = None
    bands: int | None = None
    rows: int | None = None
    threshold: float = 0.8
    verify: Literal["jaccard"] = "jaccard"  # exact Jaccard on the same shingles inside candidate clusters
    max_cluster: int = 500  # clusters up to this size are verified pair by pair (OLMo 3's limit)


class SubstringStep(Frozen):
    kind: Literal["substring"] = "substring"
    min_bytes: int = 500
    keep: Literal["one"] = "one"  # the first occurrence in input order stays
    bookend: float | None = None  # drop (not trim) a document at least this much repeats (OLMo 3: 80%)


class QualityStep(Frozen):
    """A document quality score from a linear classifier over hashed word uni- and bigrams, the
    model family of the fastText classifier OLMo 3 used (fastText itself is not used: its Python
    build trains nondeterministically here, see runners/curation/quality.py)."""

    kind: Literal["quality"] = "quality"
    model: Literal["linear"] = "linear"
    positive: tuple[str, ...]
    negative: tuple[str, ...]


class UpsampleStep(Frozen):
    kind: Literal["upsample"] = "upsample"
    drop_below: float = 0.4
    max_repeat: float = 7.0
    per: str = "source"  # a document field (e.g. "topic") or "source"
    tokens: int | None = None  # target in tokens of the project's tokenizer; None keeps what is available
    words: int | None = None  # or the target in whitespace words (then documents are weighted by words)
    seed: int = 0


class DecontaminateStep(Frozen):
    kind: Literal["decontaminate"] = "decontaminate"
    against: tuple[str, ...]  # task names (resolved from `evals`)
    ngram: int = 8
    min_overlap: float = 0.5


class FimStep(Frozen):
    kind: Literal["fim"] = "fim"
    rate: float = 0.5
    spm: float = 0.5
    seed: int = 0


CurateStep = Annotated[
    ExactStep | MinhashStep | SubstringStep | QualityStep | UpsampleStep | DecontaminateStep | FimStep,
    Field(discriminator="kind"),
]


class Curate(Frozen):
    name: str
    sources: tuple[str, ...]
    steps: tuple[CurateStep, ...]
    tokens: int | None = None  # declared yield, used when no manifest exists yet


class MixEntry(Frozen):
    name: str  # a source, curation or mix
    share: float  # fraction of the mix
    max_repeat: float | None = None


class Mix(Frozen):
    name: str
    entries: tuple[MixEntry, ...]
    tokens: int | None = None


class ExternalModel(Frozen):
    """A model the flow does not train (e.g. the DPO delta pair's chosen/rejected generators)."""

    name: str
    path: str


class ScheduleSpec(Frozen):
    kind: Literal["cosine", "linear", "wsd", "constant"]
    warmup: tuple[Literal["steps", "fraction"], float] = ("steps", 0.0)
    final: float = 0.0
    decay: float = 0.1


class StageRuntime(Frozen):
    """Not part of a stage's identity."""

    gpus: int | None = None
    nodes: int = 1
    procs_per_node: int | None = None
    launcher: Literal["torchrun", "slurm"] = "torchrun"  # slurm: the stage becomes an sbatch job
    throughput: float | None = None  # tokens/s/GPU, for GPU-hours
    price: float | None = None  # USD per GPU-hour
    micro_batch: int | None = None
    compile: bool = False
    activation_checkpointing: bool = False
    device: Literal["cpu", "cuda", "auto"] = "auto"
    threads: int | None = None
    checkpoint_every: int | None = None
    attention_impl: Literal["sdpa", "flex_attention", "eager"] = "sdpa"
    fused_optimizer: bool = False
    reshard_after_forward: bool = True
    fsdp_prefetch: int | None = None


class DeltaPairs(Frozen):
    chosen: str
    rejected: str


class DpoSettings(Frozen):
    """A DPO stage: pairs made by two models on `prompts` (delta learning), or read from a source or
    curation of pair records; the sampling settings apply to the generated pairs only."""

    prompts: str | None = None
    pairs: DeltaPairs | str
    loss: Literal["dpo", "dpo_norm"] = "dpo_norm"
    beta: float = 5.0
    label_smoothing: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.0  # 0.5 or more would reverse the preference
    length_control: int | None = None  # max |len(chosen) - len(rejected)| in completion tokens
    max_pairs: int | None = None
    heldout: float = 0.05  # share of pairs kept out of training, for held-out reward accuracy
    verify: bool = False  # a verifier must pass the chosen side of prompts that name one
    temperature: float = 1.0
    top_p: float = 1.0
    max_response: int = 2048  # tokens per generated completion
    generator: Literal["hf", "vllm"] = "hf"


class RlvrSettings(Frozen):
    prompts: str
    rewards: tuple[Literal["math", "code", "ifeval", "random", "format"], ...]
    template: Literal["chat", "answer"] = "chat"  # answer: RL-Zero's plain "Question: ...\nAnswer:" prompt
    group: int = 8
    prompts_per_batch: int = 64
    clip: tuple[float, float] = (0.2, 0.272)
    tis_cap: float | None = 2.0
    kl: float = 0.0
    advantages: Literal["centered", "standard"] = "centered"
    active_sampling: bool = True
    refills: int = 8  # generate rounds active sampling may add per step to fill the batch
    retire: float | None = 0.875  # prompts solved at a pass rate above this are not sampled again
    temperature: float = 1.0
    max_response: int = 1024
    minibatches: int = 1


StageKind = Literal["pretrain", "midtrain", "longctx", "sft", "dpo", "rlvr"]
STAGE_KINDS: tuple[str, ...] = ("pretrain", "midtrain", "longctx", "sft", "dpo", "rlvr")


class Stage(Frozen):
    name: str
    kind: StageKind
    after: str | None = None
    model: str | None = None  # pretrain: the model block; later stages continue from `after`
    data: str | None = None  # a mix, source or curation
    tokenizer: str | None = None  # defaults to the model's
    tokens: int | None = None
    steps: int | None = None
    epochs: float | None = None
    seq: int | None = None
    batch: tuple[Literal["tokens", "seqs"], int] | None = None
    optimizer: OptimizerConfig | None = None
    schedule: ScheduleSpec | None = None
    yarn: YarnConfig | None = None
    doc_mask: bool | None = None  # None: on for SFT (packed chats never attend to each other), else off
    seed: int | None = None
    dpo: DpoSettings | None = None
    rlvr: RlvrSettings | None = None
    runtime: StageRuntime = StageRuntime()


class Task(Frozen):
    name: str
    type: Literal["generate", "multiple_choice", "ifeval"] = "generate"  # of a local task; lm-eval's have their own
    path: str | None = None  # local jsonl
    lm_eval: str | None = None  # an lm-eval built-in task name
    metric: str = "exact_match"
    limit: int | None = None
    temperature: float | None = None  # None or 0: greedy; > 0 samples (with the eval's seed)
    top_p: float | None = None
    max_response: int | None = None  # generated tokens; by type when None (evals/tasks/configs.py)


# lm-eval tasks run from local data (their packaged problems, in the RLVR sandbox: evals/stage.py), so a
# task's own settings (limit, sampling, max_response) apply to them as to a task with a `path`
LOCAL_LM_EVAL: tuple[str, ...] = ("humaneval",)

RULER_TASKS: tuple[str, ...] = ("niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1",
                                "niah_multikey_2", "niah_multikey_3", "niah_multivalue", "niah_multiquery",
                                "vt", "cwe", "fwe")


class EvalRuntime(Frozen):
    """Not part of an eval's identity: where it runs (the HF backend on CPU, vLLM on GPUs)."""

    device: Literal["cpu", "cuda", "auto"] = "auto"
    backend: Literal["hf", "vllm", "auto"] = "auto"
    threads: int | None = None
    gpus: int | None = None


class Eval(Frozen):
    name: str
    after: tuple[str, ...]
    tasks: tuple[str, ...] = ()
    ruler: tuple[int, ...] = ()  # context lengths
    ruler_tasks: tuple[str, ...] = RULER_TASKS
    ruler_samples: int = 500  # per task and length (NVIDIA's count)
    haystack: str | None = None  # a source: the real text of RULER's essay haystacks
    contamination: Literal["check", "off"] = "off"
    batch: int = 8  # fixed: log-likelihoods and padding depend on it
    runtime: EvalRuntime = EvalRuntime()


class FindingArm(Frozen):
    """One side of a finding: a variant (every seed of it) at one of its stages."""

    variant: str  # a variant name as the user writes it: base, an ablation, a sweep point
    stage: str


class Finding(Frozen):
    """A published claim checked on this flow: `measure` minus `against` on one task and metric."""

    name: str
    claim: str
    source: str | None = None
    task: str  # a task name or ruler@LENGTH
    metric: str | None = None  # None: the task's own metric
    items: Literal["all", "flagged", "answer_seen", "clean"] = "all"
    # the arms' difference on `items` minus their difference on these (a difference in differences)
    relative_to: Literal["all", "flagged", "answer_seen", "clean"] | None = None
    measure: FindingArm
    against: FindingArm
    expect: Literal["higher", "lower", "none", "no_gain"]


class Report(Frozen):
    name: str
    rows: Literal["variants", "stages", "findings"] = "variants"
    columns: tuple[str, ...] = ()
    baseline: str = "base"
    format: tuple[Literal["markdown", "latex", "html", "csv"], ...] = ("markdown",)
    findings: tuple[Finding, ...] = ()


class GlobalRuntime(Frozen):
    gpu: str = "H100"
    price: float | None = None


class Spec(Frozen):
    """One variant of an experiment, fully resolved."""

    file: str
    version: Literal[1] = 1  # the language version (`olmospec 1`); resolve.py refuses any other
    tokenizers: dict[str, Tokenizer] = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    curations: dict[str, Curate] = Field(default_factory=dict)
    mixes: dict[str, Mix] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    model_tokenizers: dict[str, str] = Field(default_factory=dict)
    external_models: dict[str, ExternalModel] = Field(default_factory=dict)
    stages: dict[str, Stage] = Field(default_factory=dict)
    tasks: dict[str, Task] = Field(default_factory=dict)
    evals: dict[str, Eval] = Field(default_factory=dict)
    reports: dict[str, Report] = Field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    seeds_from: str | None = None
    seeds_for: tuple[str, ...] | None = None  # `seeds = [..] for [base, x]`: the variants seeded (None: all)
    runtime: GlobalRuntime = GlobalRuntime()
