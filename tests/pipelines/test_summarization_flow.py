"""The summarization flows end to end under Prefect (tiny config): pretrain, fine-tune, champion, batch."""

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_summarization_flows_end_to_end(prefect_server, tmp_path):
    from pipelines.flows import summarization_batch, summarization_retrain

    result = summarization_retrain(config="tiny", prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                                   registry=str(tmp_path / "registry"))
    pretrained, trained = result["trained"]["pretrain"], result["trained"]["train"]
    assert pretrained["steps"] == 3 and pretrained["metric"] == "val_loss" and trained["metric"] == "val_rougeL"
    assert result["registered"]["name"] == "summarization-debian" and result["registered"]["promoted"]
    assert result["best_peer"] in {"lead-1", "lead-3", "lexrank", "textrank", "lsa"} and "rougeL" in result["ours"]
    assert result["best_peer_scores"]["set"] == "test"  # the headline: the in-domain test split
    assert ModelRegistry(tmp_path / "registry").champion("summarization-debian").path.joinpath("tokenizer.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.txt").write_text("Utilities to convert images between many file formats.")
    (incoming / "empty.txt").write_text("")
    batch = summarization_batch(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"),
                                config="tiny", options={"beams": 2, "max_length": 8})
    assert batch["succeeded"] == 1 and batch["errors"] == 1 and len(read_outputs(tmp_path / "batch")) == 1
    assert (tmp_path / "batch" / "summaries.txt").read_text().startswith("a.txt\t")
