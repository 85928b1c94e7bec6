"""Surveys, methods and process-pool tasks of ``learned_realistic_bench.py``.

Every task is a top-level function of plain arguments (a :class:`Case`, the work directory, names
and numbers) that reads its inputs from the work directory, writes its outputs there (through
:func:`geolearn.atomic.atomic_path`) and returns a JSON-able dict, so that tasks run in spawned
worker processes and a killed run leaves everything that finished.

Cost accounting: every operator counts its own J/Jᵀ applications (``J.applications``, per model:
the currency of the LSRTM comparison); ``BornOperator.performance`` counts the propagations the
kernels actually ran (the wall-time model). For shot-subsampled LSRTM an application on ``s`` of
``n`` shots counts as ``s / n`` of a full one. Wave-equation solves are measured with the cost
ledger (``geolearn.ledger.count_solves``); FWI is compared at equal solves (a gradient is a
forward and an adjoint per shot, a line-search trial a forward per shot).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from geolearn import ledger
from geolearn.atomic import atomic_path
from geolearn.learned import Trainer
from geolearn.learned_inversion.born_sampler import BornSampler, add_relative_noise
from geolearn.learned_inversion.fwi import NOISE_FREE, LearnedFWI, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import grid_depths
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.learned_gradient import LearnedGradientLSRTM, learned_gradient_loss
from geolearn.learned_inversion.lsrtm import cg_lsrtm, learned_lsrtm, lsrtm_loss
from geolearn.learned_inversion.metrics import band_limited_psnr, psnr, relative_misfit, ssim
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.operators import DCT2, LinearOperator, operator_norm
from geolearn.solvers import ProjectedLBFGS, fista
from geolearn.threads import set_threads
from geolearn.wave import (
    BornOperator,
    Geometry,
    Model,
    SourceEncoding,
    WaveModeling,
    fwi_objective,
)

#: Memory a training supershot's Born operator may keep its background wavefield in (one shot).
TRAIN_CACHE_BYTES = 2 * 1024**3
#: Steps between re-plans of a training run (about a minute and a half at full size).
TRAIN_CHUNK_STEPS = 20


@dataclass(frozen=True)
class Survey:
    """A surface survey over a water layer: sources and a fixed receiver spread at 10 m depth."""

    shape: tuple[int, int]
    spacing: tuple[float, float]
    n_shots: int
    tn: float  # s
    f0: float  # Hz, Ricker peak
    nbl: int
    space_order: int
    water_depth: float  # m
    vmax: float  # m/s, the time step is stable up to it

    def model(self, velocity: np.ndarray | torch.Tensor) -> Model:
        """Grid (float32) whose absorbing layer continues ``velocity`` ``(nx, nz)`` m/s."""
        return Model(np.asarray(velocity, dtype=np.float64), self.spacing, nbl=self.nbl,
                     space_order=self.space_order, dtype=torch.float32)  # fmt: skip

    def geometry(self, model: Model) -> Geometry:
        """``n_shots`` sources from 2 % to 98 % of the width, a receiver on every column."""
        width = (self.shape[0] - 1) * self.spacing[0]
        src = np.stack(
            [np.linspace(0.02 * width, 0.98 * width, self.n_shots), np.full(self.n_shots, 10.0)], 1
        )
        rec = np.stack([np.arange(self.shape[0]) * self.spacing[0], np.full(self.shape[0], 10.0)], 1)
        dt = 0.9 * model.critical_dt(self.vmax)
        return Geometry(model, src, rec, tn=self.tn, f0=self.f0, dt=dt)

    def points_per_wavelength(self) -> float:
        """At the Ricker's highest frequency (2.6 f0) in water (1500 m/s)."""
        return 1500.0 / (2.6 * self.f0) / max(self.spacing)


@dataclass(frozen=True)
class Case:
    """Everything a task needs besides the files in the work directory (see the benchmark)."""

    lsrtm: Survey
    fwi: Survey
    noise: float  # relative Gaussian noise on the LSRTM records, ‖n‖ = noise·‖J x‖
    band_sigma_m: float
    lg_layers: int  # learned gradient layers K: 3K − 1 J/Jᵀ (3K with the safeguard)
    lg_features: int
    ista_layers: int  # unrolled ISTA layers K: 2K J/Jᵀ
    cg_iters: int  # n: 2n + 1 J/Jᵀ
    fista_iters: int  # n: 2n J/Jᵀ (A x of the last iterate included)
    stochastic_subset: int  # shots per stochastic LSRTM iteration
    budget_applications: float  # full-survey J/Jᵀ per model for the classical methods
    data_weight: float
    lr_lg: float  # base learning rates, decayed over the training allowance (cosine_rate)
    lr_ista: float
    train_encoding: str  # "rademacher": supershots; "subset": shots modelled one by one
    train_shots: int | None  # shots per training step (None: all)
    train_band_m: float | None  # high-pass length of the training loss's image error (None: plain)
    min_steps: int
    max_steps: int
    fwi_layers: int
    fwi_max_update: float
    fwi_steps_per_layer: int
    fwi_min_models: int
    fwi_max_models: int
    fwi_bounds: tuple[float, float] = (1400.0, 4800.0)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def init_worker(threads: int) -> None:
    """Process-pool initializer: kernel and torch threads, quiet warnings of known kinds."""
    set_threads(threads)
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", message=".*points per wavelength.*")


def save_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def save_tensors(path: Path, **tensors: torch.Tensor) -> None:
    with atomic_path(path) as tmp:
        torch.save({k: torch.as_tensor(v) for k, v in tensors.items()}, tmp)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


class EncodedSampler(BornSampler):
    """The training steps' :class:`~geolearn.learned_inversion.born_sampler.BornSampler`, timed.

    Each step draws a pool model, one of its migration backgrounds and ``case.train_shots`` shots
    at random (all shots when None), encoded as ``case.train_encoding`` says
    (:class:`~geolearn.wave.SourceEncoding`: one Rademacher supershot, or the subset modelled shot
    by shot), and models ``y = J x + noise`` with that experiment's Born operator (for a supershot
    equal to encoding the full records, ``Σ_i w_i J_i x``, at one solve instead of ``n_shots``).
    """

    def __init__(self, case: Case, pool: dict[str, torch.Tensor]):
        survey = case.lsrtm

        def operator(v0: torch.Tensor, gen: torch.Generator) -> BornOperator:
            model = survey.model(v0)
            encoding = SourceEncoding(
                survey.geometry(model), case.train_encoding, subset=case.train_shots, seed=gen
            )
            return BornOperator(model, encoding.geometry, v0, cache=TRAIN_CACHE_BYTES)

        # pool: velocity (N, nx, nz) and backgrounds (N, L, nx, nz)
        super().__init__(pool["velocity"], pool["backgrounds"], operator, case.noise)
        self.started: list[float] = []

    def __call__(
        self, batch_size: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, BornOperator]:
        self.started.append(time.perf_counter())
        return super().__call__(batch_size, gen)

    def step_seconds(self) -> float | None:
        """Median wall time of the steps after the first of this process (the first builds kernels)."""
        gaps = np.diff(self.started)[1:]
        return float(np.median(gaps)) if len(gaps) else None


def ista_model_loss(data_weight: float):
    """``lsrtm_loss`` of the unrolled ISTA at the batch's own operator (``Trainer`` ``model_loss``)."""

    def loss(model: torch.nn.Module, y: torch.Tensor, J: LinearOperator, x: torch.Tensor) -> torch.Tensor:
        return lsrtm_loss(J, data_weight)(model(y, J), x, y)

    return loss


def cosine_rate(case: Case, arch: str, spent_s: float, allowance_s: float) -> float:
    """Learning rate after ``spent_s`` of ``allowance_s`` seconds: cosine decay to 5 % of the base
    (the floor once the allowance is spent, or when a resumed run has none left)."""
    base = case.lr_lg if arch == "lg" else case.lr_ista
    fraction = min(spent_s / allowance_s, 1.0) if allowance_s > 0 else 1.0
    return float(base * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * fraction))))


def lsrtm_network(arch: str, case: Case, seed: int, scale: float) -> torch.nn.Module:
    """``"lg"``: learned gradient (CG classical step); ``"ista"``: unrolled ISTA with CNN corrections."""
    if arch == "lg":
        return LearnedGradientLSRTM(case.lg_layers, features=case.lg_features, depth=5, memory=2,
                                    classical="cg", seed=seed)  # fmt: skip
    return learned_lsrtm(case.ista_layers, scale=scale, seed=seed)


def train_lsrtm(case: Case, work: str, arch: str, seed: int, allowance_s: float) -> dict:
    """Train one network for about ``allowance_s`` seconds (at least ``min_steps``), resumably.

    A first call of :meth:`Trainer.fit` runs 3 steps (or resumes a checkpoint), then the stage is
    extended by at most ``TRAIN_CHUNK_STEPS`` at a time, to the number of steps that fits the
    allowance at the step time measured so far; each chunk runs at the :func:`cosine_rate` of the
    allowance already spent (a resumed run counts the seconds of the runs before it).
    """
    work_dir, start = Path(work), time.perf_counter()
    pool = load_tensors(work_dir / "lsrtm_pool.pt")
    net = lsrtm_network(arch, case, seed, float(pool["scale"]))
    side = work_dir / f"train_{arch}_{seed}.json"
    # The learned gradient network trains with the hinge on layers that fit the data worse than
    # their CG step (learned_gradient_loss), so its safeguard stays silent on models like these.
    band = (
        {}
        if case.train_band_m is None
        else {"band_sigma_m": case.train_band_m, "spacing": case.lsrtm.spacing}
    )
    loss = (
        learned_gradient_loss(case.data_weight, **band) if arch == "lg" else ista_model_loss(case.data_weight)
    )
    trainer = Trainer(net, lr=cosine_rate(case, arch, 0.0, allowance_s), clip_norm=1.0, batch_size=1, model_loss=loss,
                      checkpoint_path=work_dir / f"train_{arch}_{seed}.pt", checkpoint_every=5, progress=False,
                      seed=1000 + seed)  # fmt: skip
    sampler = EncodedSampler(case, pool)
    before = json.loads(side.read_text()) if side.exists() else {"seconds": 0.0, "per_step": {}}

    def spent() -> float:
        return before["seconds"] + time.perf_counter() - start

    with ledger.count_solves() as cost:
        trainer.fit(sampler, n_steps=min(3, case.max_steps), lr=cosine_rate(case, arch, spent(), allowance_s))
        while True:  # re-planned every chunk: a step slows down when the other workers get busy
            step_s = (
                sampler.step_seconds()
                or before.get("step_s")
                or (time.perf_counter() - start) / max(len(sampler.started), 1)
            )
            left = allowance_s - spent()
            n_steps = int(np.clip(trainer.step_count + left // step_s, case.min_steps, case.max_steps))
            if n_steps <= trainer.step_count:
                break
            trainer.fit(sampler, n_steps=min(n_steps, trainer.step_count + TRAIN_CHUNK_STEPS),
                        lr=cosine_rate(case, arch, spent(), allowance_s))  # fmt: skip
        sampler.close()
    ran = len(sampler.started)
    per_step = before["per_step"]
    if ran:  # J/Jᵀ per step are the same every step: measured on the steps this process ran
        per_step = {"applications": sampler.applications / ran, "solves": cost.solves / ran,
                    "propagations": sampler.propagations / ran}  # fmt: skip
    out = {"arch": arch, "seed": seed, "steps": trainer.step_count, "steps_this_run": ran,
           "step_s": sampler.step_seconds() or step_s, "seconds": spent(), "shots_per_supershot": case.train_shots,
           "per_step": per_step, "total": {k: v * trainer.step_count for k, v in per_step.items()},
           "loss_first": trainer.history.train_loss[:5], "loss_last": trainer.history.train_loss[-5:],
           "loss_means_40": [float(np.mean(trainer.history.train_loss[i:i + 40]))
                             for i in range(0, len(trainer.history.train_loss), 40)]}  # fmt: skip
    save_json(side, out)
    return out


def load_lsrtm_network(case: Case, work: Path, arch: str, seed: int, scale: float) -> torch.nn.Module:
    net = lsrtm_network(arch, case, seed, scale)
    net.load_state_dict(torch.load(work / f"train_{arch}_{seed}.pt", weights_only=True)["model"])
    return net.eval()


# ---------------------------------------------------------------------------------------- data
def make_lsrtm_test(case: Case, work: str, name: str, seed: int) -> dict:
    """Born records of test model ``name`` (24+ shots, full survey) plus noise; its RTM image."""
    work_dir = Path(work)
    t = load_tensors(work_dir / f"lsrtm_test_{name}.pt")
    survey = case.lsrtm
    model = survey.model(t["v0"])
    geometry = survey.geometry(model)
    J = BornOperator(model, geometry, t["v0"].float(), cache=None)
    x = (t["v"] - t["v0"]).float()
    with torch.no_grad():
        clean = J(x[None])
    n_j = len(J.performance)
    y = add_relative_noise(clean, case.noise, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        rtm = J.adjoint(y)[0]
    save_tensors(work_dir / f"lsrtm_data_{name}.pt", y=y, x=x, rtm=rtm)
    # Kernel time only (no operator build or compile), the median propagation: robust to the other
    # workers compiling while this task ran.
    kernel = [r.seconds for r in J.performance]
    n = survey.n_shots
    return {"name": name, "shots": n, "propagations": len(kernel),
            "background_bytes_per_shot": (geometry.nt + 1) * J.solver.grid_points * 4,
            "seconds_J": n * float(np.median(kernel[:n_j])), "seconds_Jt": 2 * n * float(np.median(kernel[n_j:]))}  # fmt: skip


def fwi_geometry(case: Case) -> Geometry:
    """The FWI acquisition: one reference model (water over a 0.6 /s gradient) for every model, so
    that records and inversions share the absorbing layer."""
    s = case.fwi
    z = np.arange(s.shape[1]) * s.spacing[1]
    ref = np.where(z < s.water_depth, 1500.0, 1700.0 + 0.6 * (z - s.water_depth))
    return s.geometry(s.model(np.broadcast_to(ref, s.shape)))


def make_fwi_records(case: Case, work: str, name: str, index: list[int]) -> dict:
    """Records ``F(v)`` of models ``index`` of ``fwi_models_{name}.pt`` (clean data)."""
    work_dir = Path(work)
    v = load_tensors(work_dir / f"fwi_models_{name}.pt")["v"][index]
    geo = fwi_geometry(case)
    F = WaveModeling(geo.model, geo)
    with torch.no_grad():
        d = torch.stack([F(m.float()) for m in v])
    save_tensors(work_dir / f"fwi_records_{name}_{index[0]}.pt", d=d, index=torch.tensor(index))
    seconds = len(F.performance) * float(np.median([r.seconds for r in F.performance]))  # as make_lsrtm_test
    return {"name": name, "models": len(index), "seconds": seconds, "forwards": len(F.performance)}


def fwi_records(work_dir: Path, name: str) -> torch.Tensor:
    parts = sorted(work_dir.glob(f"fwi_records_{name}_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    return torch.cat([load_tensors(p)["d"] for p in parts])


# ---------------------------------------------------------------------------------------- LSRTM methods
def stochastic_lsrtm(case: Case, model: Model, geometry: Geometry, v0: torch.Tensor, y: torch.Tensor,
                     seed: int, cache: int | None) -> tuple[torch.Tensor, float]:  # fmt: skip
    """Shot-subsampled steepest descent: each iteration a new random subset of shots (unbiased
    scaling), ``x ← x − α g`` with the exact line-search step on that subset. Runs while the
    full-survey-equivalent J/Jᵀ count stays within the budget; returns the image and that count."""
    s, n = case.stochastic_subset, geometry.n_shots
    encoding = SourceEncoding(geometry, "subset", subset=s, seed=seed)
    x = torch.zeros((1, *model.shape), dtype=torch.float32)
    used = 0.0
    while True:
        cost = (3 if used else 2) * s / n
        if used + cost > case.budget_applications + 1e-9:
            return x[0], used
        J = BornOperator(model, encoding.geometry, v0, cache=cache)
        ys = encoding.encode_data(y[0])[None]
        with torch.no_grad():
            r = (J(x) if used else torch.zeros_like(ys)) - ys
            g = J.adjoint(r)
            q = J(g)
        x = x - (g.double().pow(2).sum() / q.double().pow(2).sum()).float() * g
        used += cost
        encoding.draw()


def fista_dct_lsrtm(
    case: Case, J: LinearOperator, y: torch.Tensor, lipschitz: float, scale: float
) -> torch.Tensor:
    """FISTA on ``½‖J S c − y‖² + λ‖c‖₁``, ``S`` the orthonormal 2D DCT synthesis, step ``1/L``,
    threshold ``γλ`` = 1 % of the training perturbations' std (m/s); ``2n`` J/Jᵀ applications."""
    S = DCT2(J.domain_shape, dtype=J.dtype)
    lam = 0.01 * scale * lipschitz
    result = fista(J @ S, y, lam, lipschitz=lipschitz, max_iter=case.fista_iters, tol=0.0)
    return S(result.x)


def lipschitz_estimate(case: Case, work: str, name: str, scale: float) -> dict:
    """``‖J‖²`` estimates on test model ``name``'s operator, made once per acquisition (their J/Jᵀ are
    reported, not charged per model): FISTA's ``1.5 × 5 power iterations``, and the learned ISTA's
    own estimator where its steps are fractions of ``1/L``."""
    work_dir = Path(work)
    t = load_tensors(work_dir / f"lsrtm_test_{name}.pt")
    model = case.lsrtm.model(t["v0"])
    J = BornOperator(model, case.lsrtm.geometry(model), t["v0"].float(), cache=None)
    norm = operator_norm(J, max_iter=5, tol=1e-3, seed=0)
    applications = sum(J.applications.values())
    out = {"lipschitz": 1.5 * norm**2, "applications": applications}
    ista = lsrtm_network("ista", case, 0, scale)
    if getattr(ista, "step_scale", None) == "lipschitz":
        out |= {
            "lipschitz_ista": float(ista.lipschitz_estimator(J)),
            "applications_ista": sum(J.applications.values()) - applications,
        }
    return out


def eval_lsrtm(case: Case, work: str, name: str, method: str, seed: int, extra: dict) -> dict:
    """One method on test model ``name``: image, counted cost, scores; the image is saved."""
    work_dir = Path(work)
    t = load_tensors(work_dir / f"lsrtm_test_{name}.pt")
    data = load_tensors(work_dir / f"lsrtm_data_{name}.pt")
    y, x = data["y"], data["x"]
    survey = case.lsrtm
    v0 = t["v0"].float()
    model = survey.model(v0)
    geometry = survey.geometry(model)
    J = BornOperator(model, geometry, v0, cache=extra.get("cache"))  # counts its own J/Jᵀ
    start = time.perf_counter()
    accepted, misfit = None, None
    with torch.no_grad():
        if method == "CG":
            image, cost = cg_lsrtm(J, y, case.cg_iters)[0], None
        elif method == "FISTA-DCT":
            image, cost = fista_dct_lsrtm(case, J, y, extra["lipschitz"], extra["scale"])[0], None
        elif method == "stochastic":
            image, cost = stochastic_lsrtm(case, model, geometry, v0, y, seed, extra.get("cache"))
        elif method in ("learned gradient", "learned gradient + safeguard"):
            net = load_lsrtm_network(case, work_dir, "lg", seed, extra["scale"])
            guard = DataSafeguard(case.noise) if method.endswith("safeguard") else None
            run = net.run(y, J, safeguard=guard)
            image, cost, accepted = run.image[0], None, run.accepted[0].tolist()
            if guard is not None:  # the safeguard's last check computed the result's residual
                misfit = float(run.misfit[0, -1])
        elif method == "learned ISTA":
            net = load_lsrtm_network(case, work_dir, "ista", seed, extra["scale"])
            kwargs = {"lipschitz": extra["lipschitz_ista"]} if "lipschitz_ista" in extra else {}
            image, cost = net(y, J, **kwargs)[0], None
        else:
            raise ValueError(f"unknown LSRTM method {method!r}")
    seconds = time.perf_counter() - start
    cost = sum(J.applications.values()) if cost is None else cost  # read before the misfit's J
    if misfit is None:
        with torch.no_grad():
            misfit = float(relative_misfit(J(image[None]), y)[0])
    save_tensors(work_dir / f"image_lsrtm_{name}_{method.replace(' ', '_')}_{seed}.pt", image=image)
    return {"name": name, "method": method, "seed": seed, "applications": cost, "seconds": seconds,
            "psnr_db": float(psnr(image, x)), "band_psnr_db": float(band_limited_psnr(image, x, case.band_sigma_m, survey.spacing)),
            "ssim": float(ssim(image, x)), "misfit": misfit, "accepted": accepted}  # fmt: skip


# ---------------------------------------------------------------------------------------- FWI
def train_fwi(case: Case, work: str, seed: int, allowance_s: float) -> dict:
    """Greedy training of :class:`LearnedFWI` on as many pool models as the allowance pays for."""
    work_dir, start = Path(work), time.perf_counter()
    weights = work_dir / f"train_fwi_{seed}.pt"
    side = work_dir / f"train_fwi_{seed}.json"
    if weights.exists() and side.exists():
        return json.loads(side.read_text())
    pool = load_tensors(work_dir / "fwi_models_train.pt")
    observed = fwi_records(work_dir, "train")
    geo = fwi_geometry(case)
    t0 = time.perf_counter()
    fwi_objective(pool["start"][0].float(), geo, observed[0])  # kernels built, and one gradient timed
    t_grad = time.perf_counter() - t0
    adam_s = case.fwi_steps_per_layer * case.fwi_layers * cnn_step_seconds(case, geo, min(8, len(observed)))
    left = allowance_s - (time.perf_counter() - start) - adam_s
    n = int(
        np.clip(
            left / (case.fwi_layers * t_grad), case.fwi_min_models, min(case.fwi_max_models, len(observed))
        )
    )
    v_true = pool["v"][:n].float()
    net = LearnedFWI(case.fwi_layers, max_depth=case.fwi.shape[1] * case.fwi.spacing[1],
                     max_update=case.fwi_max_update, v_scale=(float(v_true.mean()), float(v_true.std())), seed=seed)  # fmt: skip
    history = train_learned_fwi(net, geo, pool["start"][:n].float(), observed[:n], v_true,
                                steps_per_layer=case.fwi_steps_per_layer, lr=1e-2, batch_size=8, seed=seed,
                                progress=False)  # fmt: skip
    save_tensors(weights, **net.state_dict())
    out = {"seed": seed, "models": n, "gradients": history["gradients"], "solves": history["solves"],
           "seconds": time.perf_counter() - start, "gradient_s": t_grad,
           "loss_last": [h[-1] for h in history["loss"]]}  # fmt: skip
    save_json(side, out)
    return out


def cnn_step_seconds(case: Case, geo: Geometry, batch: int) -> float:
    """Wall time of one training step of a LearnedFWI layer (forward and backward, no solve)."""
    net = LearnedFWI(1, max_depth=case.fwi.shape[1] * case.fwi.spacing[1])
    v = torch.full((batch, *case.fwi.shape), 2500.0)
    g, mu = torch.randn(v.shape), torch.full((batch,), 0.1)
    depths = grid_depths(geo)
    start = time.perf_counter()
    for _ in range(3):
        net.layer(0, v, g, mu, depths).pow(2).mean().backward()
    return (time.perf_counter() - start) / 3


def classical_fwi(method: str, case: Case, v0: torch.Tensor, d: torch.Tensor, geo: Geometry, budget: int,
                  step: float = 50.0, max_update: float = 200.0, max_trials: int = 6) -> tuple[torch.Tensor, int, float]:  # fmt: skip
    """Gradient descent (``-g/max|g|``, step doubled then halved as :func:`gd_fwi`) or projected
    L-BFGS (memory 5; first step ``step`` m/s, later unit steps capped at ``max_update`` m/s), both
    with Armijo backtracking within ``case.fwi_bounds``, until ``budget`` solves are spent (read
    from the cost ledger as they are performed). Returns the model, its gradients and solves."""
    with ledger.count_solves() as cost:
        x, gradients = _classical_fwi_loop(
            method, case, v0, d, geo, budget, cost, step, max_update, max_trials
        )
    return torch.as_tensor(x, dtype=torch.float32), gradients, cost.solves


def _classical_fwi_loop(method: str, case: Case, v0: torch.Tensor, d: torch.Tensor, geo: Geometry, budget: int,
                        cost: ledger.SolveCount, step: float, max_update: float, max_trials: int) -> tuple[np.ndarray, int]:  # fmt: skip
    ns = geo.n_shots
    F = WaveModeling(geo.model, geo)
    opt = ProjectedLBFGS(*case.fwi_bounds, memory=5)
    x, prev, alpha_gd, gradients = v0.double().numpy(), None, step, 0
    while cost.solves + 3 * ns <= budget:  # a gradient (2 solves per shot) and at least one trial (1)
        f, g = fwi_objective(torch.as_tensor(x, dtype=torch.float32), geo, d)
        gradients += 1
        f, g = float(f), g.double().numpy()
        if method == "L-BFGS":
            if prev is not None:
                opt.update(x - prev[0], g - prev[1])
            p = opt.direction(x, g, np.ones_like(x))
            pmax = float(np.abs(p).max())
            alpha = min(1.0, max_update / pmax) if opt.s else step / pmax
        else:
            p = -g / max(float(np.abs(g).max()), np.finfo(float).tiny)
            alpha = 2 * alpha_gd
        for _ in range(max_trials):
            if cost.solves + ns > budget:
                break
            trial = opt.project(x + alpha * p)
            with torch.no_grad():
                ft = 0.5 * float((F(torch.as_tensor(trial, dtype=torch.float32)) - d).double().pow(2).sum())
            if opt.accept(f, g, x, ft, trial):
                prev, x, alpha_gd = (x, g), trial, alpha
                break
            alpha /= 2
    return x, gradients


def eval_fwi(case: Case, work: str, index: int, method: str, seed: int, budget: int) -> dict:
    """One FWI method on Marmousi evaluation region ``index``; the model is saved."""
    work_dir = Path(work)
    models = load_tensors(work_dir / "fwi_models_eval.pt")
    v, v0 = models["v"][index].float(), models["start"][index].float()
    d = fwi_records(work_dir, "eval")[index]
    geo = fwi_geometry(case)
    start, accepted = time.perf_counter(), None
    if method.startswith("learned"):
        net = LearnedFWI(case.fwi_layers, max_depth=case.fwi.shape[1] * case.fwi.spacing[1],
                         max_update=case.fwi_max_update, seed=seed)  # fmt: skip
        net.load_state_dict(load_tensors(work_dir / f"train_fwi_{seed}.pt"))
        with torch.no_grad(), ledger.count_solves() as cost:
            if method.endswith("safeguard"):
                run = safeguarded_fwi(net, v0[None], d[None], geo, safeguard=NOISE_FREE)
                est, accepted = run.velocity[0], run.accepted[0].tolist()
            else:
                est = net(v0[None], d[None], geo, safeguard=None)[0]
        # The safeguard checks each proposal by a forward modelling: still K gradients.
        gradients, solves = case.fwi_layers, cost.solves
    elif method == "start":
        est, gradients, solves = v0, 0, 0.0
    else:
        est, gradients, solves = classical_fwi(method, case, v0, d, geo, budget)
    seconds = time.perf_counter() - start
    ns = geo.n_shots
    F = WaveModeling(geo.model, geo)
    with torch.no_grad():
        misfit = float(relative_misfit(F(est)[None], d[None])[0])
    save_tensors(work_dir / f"image_fwi_{index}_{method.replace(' ', '_')}_{seed}.pt", image=est)
    return {"region": index, "method": method, "seed": seed, "solves": solves, "gradients": gradients,
            "forwards": (solves - 2 * ns * gradients) / ns, "seconds": seconds, "accepted": accepted,
            "psnr_db": float(psnr(est, v)), "ssim": float(ssim(est, v)), "misfit": misfit}  # fmt: skip


def fwi_learned_solves(case: Case) -> int:
    """The classical methods' budget of solves per model: the bare learned scheme's K gradients and
    one forward modelling (the safeguarded scheme's own solves, more, are measured and reported)."""
    ns = case.fwi.n_shots
    return 2 * ns * case.fwi_layers + ns


def lsrtm_task_applications(case: Case, method: str) -> tuple[float, float]:
    """``(J, Jᵀ)`` full-survey applications an LSRTM evaluation task runs, the misfit's J
    included, to plan the budget."""
    K, n, B = case.lg_layers, case.cg_iters, case.budget_applications
    n_j, n_jt = {
        "learned gradient": (2 * K - 1, K),
        "learned gradient + safeguard": (2 * K - 1, K),  # its misfit comes with the last check
        "learned ISTA": (case.ista_layers, case.ista_layers),
        "CG": (n, n + 1),
        "FISTA-DCT": (case.fista_iters, case.fista_iters),
        "stochastic": (2 * B / 3, B / 3),
    }[method]
    return n_j + 1, n_jt
