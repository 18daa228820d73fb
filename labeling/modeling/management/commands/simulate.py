"""python manage.py simulate --data FILE.jsonl --budget 1000 --wave-size 100 \\
       --strategy default|random|margin|band --seed 0 --out DIR [--final-model [--finetune JSON]]

Thin wrapper over learner.simulation: reads the inputs (data, rules, embeddings), runs one
strategy with one seed (and, with --final-model, the final-model step after the last wave),
writes DIR/<strategy>-seed<k>.json and DIR/result.json and redraws DIR/curve.png from every run
in DIR. See docs/simulation.md."""
import hashlib
import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.modeling.embedding import encoder as product_encoder
from learner import simulation as sim
from learner.embedding import DirectoryEmbeddingCache, embed_texts, get_encoder
from learner.rules import compile_rule
from learner.simulation.data import not_utf8_message
from learner.simulation.final_model import simulation_finetune_config
from learner.training.config import config_from_options

from ._simulate_options import (
    _json_object,
    _json_option,
    check_cache_folder,
    check_planner_settings,
    check_seed,
    file_problem,
    finite_float,
    load_npy,
    out_problem,
)

BENCH_EMBEDDINGS = Path(settings.BASE_DIR) / "bench" / ".cache" / "emb"


def read_full_pool_cache(full_file: Path) -> dict:
    """DIR/full_pool.json: the full-pool score (and C) per data file and settings, kept between runs
    into one folder. A damaged one (a crash while writing, an edit) is refused naming it, before
    any work: deleting it only costs the next run one full-pool fit."""
    if not full_file.exists():
        return {}
    try:
        cache = json.loads(full_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} at line {exc.lineno}"
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text: {exc.reason}"
    except OSError as exc:  # a folder of that name, no read permission
        reason = exc.strerror or str(exc)
    else:
        reason = None
    if reason:
        raise CommandError(f"{full_file}: cannot be read ({reason}); it only caches the full-pool score: "
                           "delete it and run again")
    entries_ok = isinstance(cache, dict) and all(
        isinstance(entry, int | float) or (isinstance(entry, dict) and isinstance(entry.get("macro_f1"), int | float))
        for entry in cache.values())
    if not entries_ok:
        raise CommandError(f"{full_file}: not the full-pool cache this command writes (an object of "
                           '{"macro_f1", "C"} entries); delete it and run again')
    return cache


def _digest(*parts) -> str:
    """sha256 of ``parts`` (bytes, or contiguous arrays read in place: no copy of the vectors)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def full_pool_key(data_path: Path, embeddings: np.ndarray, config) -> str:
    """The full-pool cache's key: what the full-pool score depends on. The data file's path and a
    digest of its bytes (a file edited in place is another set), a digest of the item embeddings
    (another --embeddings file, or vectors from another encoder), the encoder that makes the label
    vectors (LONGTAIL_MODEL_ID), the seed, the hierarchy switch, the dev share and --train."""
    data_digest = hashlib.sha256(data_path.read_bytes()).hexdigest()[:16]
    vectors = np.ascontiguousarray(embeddings)
    emb_digest = _digest(f"{vectors.dtype}{vectors.shape}".encode(), vectors)
    key = (f"{data_path.resolve()}|data={data_digest}|embeddings={emb_digest}|encoder={settings.LONGTAIL_MODEL_ID}"
           f"|seed={config.seed}|hierarchy={config.use_hierarchy}")
    if config.dev_fraction > 0:
        key += f"|dev={config.dev_fraction}"
    if config.train_options:
        key += f"|train={json.dumps(config.train_options, sort_keys=True)}"
    return key


def load_rules(path: Path) -> list:
    """JSON list or JSON lines of {"label": ..., "pattern": ..., "kind": "keyword"|"regex"}."""
    if problem := file_problem(path):
        raise CommandError(f"--rules {path}: {problem}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"--rules {not_utf8_message(path)}") from None
    try:
        rows = json.loads(text)
        numbered = list(enumerate(rows if isinstance(rows, list) else [rows], start=1))
        where = "item"
    except json.JSONDecodeError:
        numbered, where = [], "line"
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbered.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise CommandError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from exc
    rules = []
    for n, row in numbered:
        if not isinstance(row, dict):
            raise CommandError(f"{path}, {where} {n}: expected an object with label, pattern, kind")
        for key in ("label", "pattern"):
            if not str(row.get(key) or "").strip():
                raise CommandError(f"{path}, {where} {n}, field '{key}': missing or empty")
        try:
            rules.append((str(row["label"]), compile_rule(row.get("kind", "keyword"), str(row["pattern"]))))
        except ValueError as exc:
            raise CommandError(f"{path}, {where} {n}, field 'pattern': {exc}") from exc
    return rules


def final_model_line(final: dict) -> str:
    """The summary's line on the final model."""
    if "skipped" in final:
        return f"final model: skipped ({final['skipped']})"
    oof = final.get("oof_macro_f1")
    noise = (f", standard error over the folds {oof['standard_error']:.3f}"
             if oof and oof.get("standard_error") is not None else "")
    compared = (f"out of fold {oof['fine_tuned']:.3f} vs frozen {oof['frozen']:.3f} over {oof['rows']} rows{noise}: "
                f"{'would be served' if final['beats_frozen'] else 'not served (the frozen model keeps serving)'}"
                if oof else "no out-of-fold comparison (folds=0): not served")
    return (f"final model (version {final['version']}, fine-tuned on {final['labels']} labels and "
            f"{final['unlabeled_rows']} unlabeled pool rows): macro-F1 {final['macro_f1']:.3f} on "
            f"{final['evaluation_rows']} {final['evaluated_on']} rows vs the last wave's frozen model "
            f"{final['frozen_macro_f1']:.3f} ({final['gain']:+.3f}); {compared}; "
            f"{final['seconds']:.1f} s on {final['device']}")


class Command(BaseCommand):
    help = "Simulate active learning on a labeled JSONL file with the product's planner and learner."

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, help="JSONL: text, label, optional coarse_label, source, split")
        parser.add_argument("--budget", type=int, default=1000, help="labels to spend in all (default 1000)")
        parser.add_argument("--wave-size", type=int, default=100, help="labels per wave (default 100)")
        parser.add_argument("--strategy", default="default", choices=sim.PRESETS)
        parser.add_argument("--seed", type=int, default=0, help="seed of the test split and of every random "
                            "choice, 0 to 4294967295 (default 0; same seed, same run)")
        parser.add_argument("--out", required=True, help="directory for result.json, per-run JSON and curve.png")
        parser.add_argument("--rules", help="JSON / JSONL keyword or regex rules for the cold start")
        parser.add_argument("--embeddings", help="row-aligned float32 .npy of the data file's embeddings")
        parser.add_argument("--embedding-cache", help="directory cache for encoded texts "
                            "(default: LONGTAIL_ARTIFACT_DIR/emb-cache)")
        parser.add_argument("--dev-fraction", type=finite_float, default=0.0,
                            help="hold out this stratified share of the pool (by seed) as a dev set and "
                            "evaluate on it instead of the test split (for tuning)")
        parser.add_argument("--rare-threshold", type=int, default=500,
                            help="a label with fewer labeled items than this counts as rare (default 500)")
        parser.add_argument("--random-share", type=finite_float, default=0.10,
                            help="share of each wave drawn at random, 0 to 1 (default 0.1)")
        parser.add_argument("--mix", help='later-wave strategy shares for "default", JSON')
        parser.add_argument("--cold-start-mix", help='first-wave strategy shares for "default", JSON')
        parser.add_argument("--planner", help='extra PlannerConfig fields for "default", JSON '
                            '(e.g. {"rare_rank": "variance"})')
        parser.add_argument("--train", help='extra TrainConfig fields for every strategy, JSON '
                            '(e.g. {"self_training": false})')
        parser.add_argument("--no-hierarchy", action="store_true", help="ignore coarse_label when training")
        parser.add_argument("--final-model", action="store_true",
                            help="after the last wave, fine-tune and train the final model as the product does "
                            "and score it on the evaluation rows")
        parser.add_argument("--finetune", help="FinetuneConfig fields for the final model, JSON, over "
                            'settings.LONGTAIL_FINETUNE (e.g. {"epochs": 2, "max_seq_length": 64}); '
                            "implies --final-model")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")

    def handle(self, *args, **opts):
        data_path = Path(opts["data"])
        out = Path(opts["out"])
        config = sim.SimConfig(strategy=opts["strategy"], budget=opts["budget"], wave_size=opts["wave_size"],
                               seed=opts["seed"], rare_threshold=opts["rare_threshold"],
                               random_share=opts["random_share"], use_hierarchy=not opts["no_hierarchy"],
                               dev_fraction=opts["dev_fraction"])
        if opts["mix"]:
            config.strategy_mix = _json_option(opts["mix"], "mix")
        if opts["cold_start_mix"]:
            config.cold_start_mix = _json_option(opts["cold_start_mix"], "cold-start-mix")
        if opts["planner"]:
            config.planner_options = self._planner_options(opts["planner"])
        if opts["train"]:
            config.train_options = _json_object(opts["train"], "train", 'an object of TrainConfig fields, '
                                                'e.g. {"self_training": false}')
            try:  # every field's type and range now: check_config alone ran in the first retrain
                config_from_options(config.train_options)
            except (TypeError, ValueError) as exc:
                raise CommandError(f"--train: {exc}") from exc
        if opts["final_model"] or opts["finetune"]:
            config.finetune_options = self._finetune_options(opts["finetune"], config)
        if config.budget <= 0 or config.wave_size <= 0:
            raise CommandError("--budget and --wave-size must be positive")
        check_seed(config.seed)
        check_planner_settings(config, mix_given=bool(opts["mix"]))
        if not 0 <= config.dev_fraction < 1:
            raise CommandError(f"--dev-fraction must be in [0, 1), got {config.dev_fraction}")
        if problem := out_problem(out):
            raise CommandError(f"--out {out}: {problem}.")
        cache_dir = Path(opts["embedding_cache"] or Path(settings.LONGTAIL_ARTIFACT_DIR) / "emb-cache")
        if not opts["embeddings"]:  # the encoding writes there
            check_cache_folder(cache_dir, given=bool(opts["embedding_cache"]))
        # The data and rules after every option's check: a mistyped option is refused at once.
        try:
            data = sim.load_jsonl(data_path)
        except sim.DataError as exc:
            raise CommandError(str(exc)) from exc
        rules = load_rules(Path(opts["rules"])) if opts["rules"] else None
        full_file = out / "full_pool.json"
        full_cache = read_full_pool_cache(full_file)

        embeddings, encoded_here = self.item_embeddings(data, opts["embeddings"], cache_dir)
        label_vectors = self.label_vectors(data, cache_dir, embeddings.shape[1], encoded_here)

        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a folder made unwritable meanwhile, a path too long
            raise CommandError(f"--out {out}: cannot create it ({exc.strerror or exc}).") from exc
        full_key = full_pool_key(data_path, embeddings, config)
        # Each entry: {"macro_f1", "C"} (the full pool's C, what penalty="auto" chose; files written
        # before it was recorded hold the score alone).
        cached = full_cache.get(full_key)
        cached = cached if isinstance(cached, dict) or cached is None else {"macro_f1": cached, "C": None}
        try:
            result = sim.run_simulation(data, embeddings, config, label_vectors=label_vectors, rules=rules,
                                        full_pool_macro_f1=None if cached is None else cached["macro_f1"],
                                        progress=not opts["no_progress"],
                                        model_path=str(settings.LONGTAIL_MODEL_PATH))
        except sim.DataError as exc:
            raise CommandError(str(exc)) from exc
        if cached:
            result["full_pool_C"] = cached.get("C")
        full_cache[full_key] = {"macro_f1": result["full_pool_macro_f1"], "C": result["full_pool_C"]}
        full_file.write_text(json.dumps(full_cache, indent=1))
        text = json.dumps(result, indent=1)
        (out / f"{config.strategy}-seed{config.seed}.json").write_text(text)
        (out / "result.json").write_text(text)
        sim.draw_curve(out)
        summary = sim.summarise(result)
        reach = summary["labels_to_95pct"]
        rare = summary["rare_ge1_at_300"]
        pool = ", ".join(data.pool_splits) or "train"
        self.stdout.write(
            f"{data_path.stem} {config.strategy} seed {config.seed}: pool = rows of split(s) {pool}, "
            f"{'test rows held out' if data.is_test.any() else 'a stratified 20 % held out as test'}; "
            f"mean macro-F1 {summary['mean_macro_f1']:.3f}, final {summary['final_macro_f1']:.3f} "
            f"(full pool {result['full_pool_macro_f1']:.3f}), "
            f"95% of full pool {'at ' + str(reach) + ' labels' if reach is not None else 'not reached'}, "
            f"rare>=1 at 300: {rare if rare is not None else 'not reached (run ended before 300 labels)'} -> {out}")
        if "final_model" in result:
            self.stdout.write(final_model_line(result["final_model"]))

    def _finetune_options(self, value: str | None, config) -> dict:
        """settings.LONGTAIL_FINETUNE, then --finetune; checked by FinetuneConfig.from_dict."""
        given = _json_object(value, "finetune", 'an object of FinetuneConfig fields, e.g. {"epochs": 2}') if value else {}
        config.finetune_options = {**getattr(settings, "LONGTAIL_FINETUNE", {}), **given}
        try:
            simulation_finetune_config(config)
        except (TypeError, ValueError) as exc:
            raise CommandError(f"--finetune: {exc}") from exc
        return config.finetune_options

    def _planner_options(self, value: str) -> dict:
        try:
            options = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--planner: not valid JSON ({exc.msg})") from exc
        if problem := sim.planner_options_problem(options):
            raise CommandError(f"--planner: {problem}")
        return options

    def item_embeddings(self, data, explicit: str | None, cache_dir: Path) -> tuple[np.ndarray, bool]:
        """The item embeddings, and whether the product's encoder made them here."""
        n = len(data.labels)
        if explicit:
            path = Path(explicit)
            try:  # check_embeddings' messages start with the path
                return sim.check_embeddings(load_npy(path), n, str(path)), False
            except sim.DataError as exc:
                raise CommandError(f"--embeddings {exc}") from exc
            except ValueError as exc:  # an array of strings
                raise CommandError(f"--embeddings {path}: {exc}") from exc
        # The shared datasets were encoded once by bench/embed_datasets.py; reuse when row-aligned.
        bench = BENCH_EMBEDDINGS / f"{Path(data.path).stem}.npy"
        shared = Path(settings.BASE_DIR).parent / "shared" / "datasets"
        if bench.is_file() and Path(data.path).resolve().parent == shared.resolve():
            emb = np.load(bench, mmap_mode="r")
            if emb.shape[0] == n:
                self.stderr.write(f"using cached embeddings {bench}")
                return sim.check_embeddings(np.asarray(emb), n, str(bench)), False
        encoder = product_encoder()
        self.stderr.write(f"encoding {n} texts (cache {cache_dir})")
        return sim.check_embeddings(embed_texts(data.texts, encoder, DirectoryEmbeddingCache(cache_dir)), n,
                                    data.path), True

    def label_vectors(self, data, cache_dir: Path, dim: int, encoded_here: bool) -> np.ndarray:
        """Humanised label names through the real encoder (the cold start's only hint). With item
        embeddings from a file (bench/embed_datasets.py: sentence-transformers on torch), through
        torch, uncached: the product's "auto" encoder picks ONNX or torch by a speed check when its
        artifact directory first builds the export, and a cached vector may come from either, so
        the label vectors, and through the label-name prior whole runs, could differ between
        checkouts (docs/simulation.md)."""
        names = [sim.humanise(n) for n in sorted(set(data.labels.tolist()))]
        if encoded_here:
            vectors = embed_texts(names, product_encoder(), DirectoryEmbeddingCache(cache_dir))
        else:
            vectors = get_encoder(str(settings.LONGTAIL_MODEL_PATH), settings.LONGTAIL_MODEL_ID,
                                  backend="torch").encode(names)
        if vectors.shape[1] != dim:
            raise CommandError(f"the embeddings have {dim} dimensions but the encoder gives {vectors.shape[1]}: "
                               "pass embeddings made with the same encoder")
        return sim.check_embeddings(vectors, len(names), "label names")
