"""A small complete flow used by the compiler tests (parsed from text; no data needed)."""

FLOW = """
olmospec 1
tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }
source web_raw { path = "data/web/*.jsonl"  tokens = 2M }
source code { path = "data/code.parquet"  tokens = 1M }
source chat { path = "data/sft.jsonl" }
source prompts { path = "data/prompts.jsonl" }
task math { path = "data/math.jsonl" }
curate web from web_raw {
  dedup exact
  dedup minhash { ngram = 5  bands = 14  rows = 8 }
  decontaminate { against = evals  ngram = 8  min_overlap = 50% }
}
mix pre { web 80%  code 20% { max_repeat = 4x }  tokens = 1M }
model m {
  d_model = 64  layers = 4  heads = 4  kv_heads = 2  mlp = 256  tokenizer = tok
  attention = repeat(window(32), window(32), window(32), full)
}
stage pretrain {
  model = m  data = pre  tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3
  schedule cosine { warmup = 10 steps  final = 10% }
  runtime { procs_per_node = 2  micro_batch = 8 }
}
stage sft after pretrain { data = chat  epochs = 2  lr = 1e-3  schedule linear }
stage rlvr after sft { prompts = prompts  rewards = [math]  steps = 10  lr = 3e-6 }
eval e after [pretrain, sft, rlvr] { tasks = [math] }
"""
