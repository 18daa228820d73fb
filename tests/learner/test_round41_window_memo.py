"""The encoder's window is read per model folder and kept in memory: a folder written again under
the same path (a project deleted and re-created under its slug saves its final-v<N>/encoder there
again, perhaps fine-tuned with another max_seq_length) must be read again, not answered from the
memo of the folder that was there before."""
import json
import shutil

from learner.embedding import bundled_model_path
from learner.encoders.window import encoder_window


def test_a_folder_rewritten_under_the_same_path_gets_its_new_window(tmp_path):
    folder = tmp_path / "final-v1" / "encoder"
    folder.mkdir(parents=True)
    shutil.copy(f"{bundled_model_path()}/tokenizer.json", folder / "tokenizer.json")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    assert encoder_window(folder).max_seq_length == 256

    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    assert encoder_window(folder).max_seq_length == 16, "the window of the folder that was there before"
