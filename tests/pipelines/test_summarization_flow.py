"""The summarization flows end to end under Prefect (tiny config): pretrain, fine-tune, champion, batch."""

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_summarization_flows_end_to_end(prefect_server, tmp_path):
    from pipelines.summarization import batch_summarize, retrain

    result = retrain(config="tiny", data_dir=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                     registry=str(tmp_path / "registry"))
    assert result["pretrained"]["steps"] == 3 and result["trained"]["pretrained"] == result["pretrained"]["model_dir"]
    assert result["registered"]["name"] == "summarization-debian" and result["registered"]["promoted"]
    assert result["best_peer"] in {"lead-1", "lead-3", "lexrank", "textrank", "lsa"} and "rougeL" in result["ours"]
    assert ModelRegistry(tmp_path / "registry").champion("summarization-debian").path.joinpath("tokenizer.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "a.txt").write_text("Utilities to convert images between many file formats.")
    (incoming / "empty.txt").write_text("")
    batch = batch_summarize(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"),
                            config="tiny")
    assert batch["succeeded"] == 1 and batch["errors"] == 1 and len(read_outputs(tmp_path / "batch")) == 1
