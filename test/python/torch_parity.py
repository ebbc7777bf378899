#!/usr/bin/env python3
"""Writes what gotune's PyTorch parity test compares against (run with Debian's /usr/bin/python3).

It imports the reference model from ../shared/bench/torch_bert.py (beside the repository), builds a
small BERT with dropout 0 and a fixed seed, and writes into OUT:
  model/config.json, model/model.safetensors   the initial weights as a Hugging Face folder
  model-bin/                                    the same with torch.save's pytorch_model.bin
  expected.safetensors                          inputs, eval logits and each layer's attention
                                                probabilities (attentions.L), and for each of two AdamW training
                                                steps (clipped): the batch, loss, gradient norm,
                                                gradients and the weights after the step
No network and no safetensors package (torch 1.13 has none): the file is written by hand.
"""
import argparse, json, os, struct, sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "bench"))
import torch_bert  # noqa: E402

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}


def write_safetensors(path, tensors):
    """The safetensors layout: u64 LE header length, JSON header, 8-byte aligned raw data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def batch(gen, c, b, t, lengths):
    ids = torch.randint(1, c["vocab_size"], (b, t), generator=gen)
    mask = torch.zeros(b, t, dtype=torch.long)
    types = torch.zeros(b, t, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        types[i, n // 2 : n] = 1  # a second segment, as in sentence pairs
        ids[i, n:] = c["pad_token_id"]
    labels = torch.randint(0, 3, (b,), generator=gen)
    return ids, mask, types, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-norm", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    c = dict(torch_bert.PRESETS["bert-mini"])
    c.update(vocab_size=5000, max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0, initializer_range=0.02)
    m = torch_bert.BertForSequenceClassification(c, num_labels=3)
    gen = torch.Generator().manual_seed(a.seed)
    b1 = batch(gen, c, 4, 24, [24, 17, 9, 20])
    b2 = batch(gen, c, 3, 16, [16, 12, 5])

    model_dir = os.path.join(a.out, "model")
    os.makedirs(model_dir, exist_ok=True)
    labels = ["biological_process", "cellular_component", "molecular_function"]
    cfg = dict(c, architectures=["BertForSequenceClassification"], model_type="bert", hidden_act="gelu",
               id2label={str(i): l for i, l in enumerate(labels)}, label2id={l: i for i, l in enumerate(labels)})
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    sd = m.state_dict()
    write_safetensors(os.path.join(model_dir, "model.safetensors"), sd)
    # The same weights the way older published models ship them: torch.save's pytorch_model.bin.
    bin_dir = os.path.join(a.out, "model-bin")
    os.makedirs(bin_dir, exist_ok=True)
    with open(os.path.join(bin_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    torch.save(sd, os.path.join(bin_dir, "pytorch_model.bin"))

    out = {}
    m.eval()
    with torch.no_grad():
        out["logits"] = m(b1[0], b1[1], b1[2])
        # What output_attentions=True gives: each layer's softmax probabilities [B, heads, T, T].
        bias = (1.0 - b1[1][:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = m.bert.embeddings(b1[0], b1[2])
        for i, layer in enumerate(m.bert.encoder.layer):
            x, probs = layer(x, bias)
            out[f"attentions.{i}"] = probs
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    for k, (ids, mask, types, y) in enumerate((b1, b2), start=1):
        for n, t in zip(("input_ids", "attention_mask", "token_type_ids", "labels"), (ids, mask, types, y)):
            out[f"step{k}.{n}"] = t
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(ids, mask, types), y)
        loss.backward()
        for n, p in m.named_parameters():
            out[f"step{k}.grad.{n}"] = p.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(m.parameters(), a.max_norm)
        opt.step()
        out[f"step{k}.loss"] = loss.detach().reshape(1)
        out[f"step{k}.grad_norm"] = norm.detach().reshape(1).float()
        for n, p in m.named_parameters():
            out[f"step{k}.after.{n}"] = p.detach().clone()
    write_safetensors(os.path.join(a.out, "expected.safetensors"), out)
    print(json.dumps({"torch": torch.__version__, "params": sum(p.numel() for p in m.parameters()),
                      "loss": [out["step1.loss"].item(), out["step2.loss"].item()],
                      "grad_norm": [out["step1.grad_norm"].item(), out["step2.grad_norm"].item()],
                      "hparams": {"lr": a.lr, "weight_decay": a.weight_decay, "max_norm": a.max_norm}}))


if __name__ == "__main__":
    main()
