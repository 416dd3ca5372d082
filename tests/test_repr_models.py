"Shared tiny models for the representation tests (random weights, offline)."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch

def tiny_llama(seed=0, layers=3, d=32, heads=4, kv=2, vocab=101, jitter=True):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    m = LlamaForCausalLM(LlamaConfig(hidden_size=d, intermediate_size=2 * d, num_hidden_layers=layers,
                                     num_attention_heads=heads, num_key_value_heads=kv, vocab_size=vocab,
                                     max_position_embeddings=64)).eval()
    if jitter: _jitter(m)
    return m

def tiny_gpt2(seed=0, layers=3, d=32, heads=4, vocab=101, jitter=True):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    m = GPT2LMHeadModel(GPT2Config(n_embd=d, n_layer=layers, n_head=heads, vocab_size=vocab, n_positions=64)).eval()
    if jitter: _jitter(m)
    return m

def _jitter(m):
    "Random norm weights and biases, so that nothing relies on the default initialisation."
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in name or "ln" in name or "bias" in name: p.add_(torch.randn_like(p) * 0.3)

def no_hooks(model) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
