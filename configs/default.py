"""Embedded default: the whole method on procedurally posed people seen by a procedural
Human3.6M-like 4-camera rig (nothing external needed), sized for a 2-core CPU.

  python launch.py --config=configs/default.py --workdir=runs/default

Subjects follow Human3.6M's split: labeled S1,S5,S6 / unlabeled S7,S8 / test S9,S11, each
"subject" with its own procedural rig.

Every field any config may set is declared here with a comment (the data blocks of the other
datasets in ``human36m_data``, ``mpi_inf_3dhp_data`` and ``recording_data``, a row of the run
table in ``run``); an override of an undeclared field fails when the config is parsed, and a bad
value when the run starts (mvssl.main.validate).
"""

import ml_collections

ConfigDict = ml_collections.ConfigDict


def _common_data(dataset: str, **fields) -> ConfigDict:
  d = ConfigDict()
  d.dataset = dataset        # rendered | human36m | mpi_inf_3dhp | recording
  d.data_dir = ''            # TFDS data_dir of its build; '' = WORKDIR/data
  d.box_scale = 1.3          # crop side / extent of the joints (or the dataset's box)
  d.update(fields)
  return d


def _subjects(labeled, unlabeled, test) -> ConfigDict:
  return ConfigDict(dict(labeled=list(labeled), unlabeled=list(unlabeled), test=list(test)))


def rendered_data() -> ConfigDict:
  """The embedded rendered dataset (mvssl.data.multiview)."""
  d = _common_data('rendered')
  d.source = 'procedural'    # procedural | h36m_motion (real motion, official cameras)
  d.num_views = 4            # cameras per subject
  d.seed = 0                 # rendering and procedural-pose seed
  # light (Lambertian, a fixed world light on each part's normal; what real images have) | depth
  # (each part's brightness from its root-relative depth: a cue real images lack, kept to measure
  # what it gives away) | flat (mvssl.data.render)
  d.shading = 'light'
  d.every = 1                # temporal subsampling of motion sequences (h36m_motion)
  d.motion_path = ''         # h36m_real_motion_17j_10hz.npz (h36m_motion only)
  d.cameras_path = ''        # h36m_cameras.json (h36m_motion only)
  d.subjects = _subjects(['S1', 'S5', 'S6'], ['S7', 'S8'], ['S9', 'S11'])   # split: subjects
  # frames per split (labeled: before config.validation holds out its share of the sequences)
  d.frames = ConfigDict(dict(labeled=750, unlabeled=1200, test=240))
  return d


def _real_data(dataset: str) -> ConfigDict:
  d = _common_data(dataset)
  d.manual_dir = ''          # folder holding the downloaded files (README: per dataset)
  d.undistort = False        # remove the lens distortion in the crop warp (pinhole crops)
  d.max_frames = 0           # cap on frames per split (0 = all), for quick trials
  d.num_workers = 8          # dataset build threads (JPEG decode + warp + encode)
  return d


def human36m_data() -> ConfigDict:
  """Human3.6M from disk (mvssl.data.human36m; paper protocol)."""
  d = _real_data('human36m')
  d.layout = 'learnable_triangulation'   # learnable_triangulation | mmpose
  d.labels_file = 'extra/human36m-multiview-labels-GTbboxes.npy'   # learnable_triangulation
  d.image_dir = 'imageSequence'    # or imageSequence-undistorted (then the lens model is off)
  d.with_damaged = False           # keep S9 Greeting-2, SittingDown-2, Waiting-1
  d.subjects = _subjects(['S1', 'S5', 'S6'], ['S7', 'S8'], ['S9', 'S11'])   # split: subjects
  # every k-th 50 Hz frame per split (test: the protocol's 64)
  d.every_by_split = ConfigDict(dict(labeled=5, unlabeled=5, test=64))
  d.box_scale = 1.0                # the labels' GT boxes are already squared around the person
  return d


def mpi_inf_3dhp_data() -> ConfigDict:
  """MPI-INF-3DHP from disk (mvssl.data.mpi_inf_3dhp; paper protocol)."""
  d = _real_data('mpi_inf_3dhp')
  d.layout = 'official'            # official (annot.mat + videos) | mmpose (npz + cameras pkl)
  d.frames_from = 'video'          # official: video (imageSequence/video_N.avi) | jpeg
  d.cameras = (0, 2, 7, 8)         # camera ids, in view order
  d.sequences = ('Seq1', 'Seq2')   # official layout: sequences per subject
  d.subjects = _subjects(['S1', 'S2', 'S3'], ['S4', 'S5', 'S6', 'S7'], ['S8'])   # split
  d.every_by_split = ConfigDict(dict(labeled=10, unlabeled=10, test=64))   # every k-th frame
  d.box_scale = 1.2                # square box around the projected joints, scaled
  return d


def recording_data(root: str = '', **overrides) -> ConfigDict:
  """A user's calibrated recording (mvssl.data.recording), unlabeled: its fields and formats."""
  r = _real_data('recording')
  r.manual_dir = root            # the recording folder
  r.calibration = 'calibration.json'   # .json | Pose2Sim .toml | .qca.txt | 'intri.yml,extri.yml'
  r.images = 'frames/{camera}_f{frame}.jpg'   # image pattern ({camera}, {frame}) or ''
  r.video = ''                   # or a video pattern, e.g. 'videos/{camera}.mp4'
  r.detections = 'npz:keypoints.npz:h36m17_2d'   # openpose:PATTERN | coco:PATTERN | npz:F:KEY | ''
  r.cameras = ()                 # camera names in view order; () = all in the calibration
  r.every = 1                    # every k-th frame
  r.subject = ''                 # name in the P-GT keys; '' = the folder name
  r.box_min_score = 0.3          # detections that place the crop box (and count in association)
  r.association_px = 20.0        # several people in a view: the gate picking the subject (px)
  r.undistort = True             # pinhole crops, so they mix with any labeled dataset
  r.update(overrides)
  return r


def motion2d_data() -> ConfigDict:
  """2D-3D pairs of the real Human3.6M motion for lifting models (mvssl.data.motion2d)."""
  d = ConfigDict()
  d.dataset = 'h36m_2d'       # the real motion projected through the official cameras
  d.motion_path = ''          # h36m_real_motion_17j_10hz.npz
  d.cameras_path = ''         # h36m_cameras.json
  d.subjects = _subjects(['S1', 'S5', 'S6'], ['S7', 'S8'], ['S9', 'S11'])   # split: subjects
  d.every_by_split = ConfigDict(dict(labeled=1, unlabeled=1, test=1))   # every k-th 10 Hz frame
  d.max_frames = 0            # frames per split, evenly spread (0 = all)
  d.noise = 'none'            # none (exact 2D) | detector (the noise model of mvssl.data.motion2d)
  # detector: Gaussian sigma per joint (px, 1000-px images), Human3.6M-17 order
  d.noise_sigma_px = (4.0, 5.0, 6.0, 8.0, 5.0, 6.0, 8.0, 4.0, 4.0, 5.0, 6.0, 5.0, 7.0, 9.0, 5.0,
                      7.0, 9.0)
  d.swap_rate = 0.02          # detector: chance that a left/right pair of a view is swapped
  d.jump_rate = 0.01          # detector: chance that a joint jumps anywhere in the person's box
  d.noise_seed = 0            # detector: seed of the noise (fixed per split, as a detector's)
  return d


def schedule(steps, batch_size, lr, warmup=50, decay='cosine', decay_rate=0.96,
             decay_steps=100000) -> ConfigDict:
  """A training schedule: steps, global batch size in multi-view frames (x views images),
  peak learning rate, linear warm-up steps, then decay: cosine (to
  optimizer.final_lr_fraction * lr at the last step) or exponential (lr * decay_rate **
  (step / decay_steps), Martinez et al.'s)."""
  return ConfigDict(dict(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup, decay=decay,
                         decay_rate=decay_rate, decay_steps=decay_steps))


def run(label, family, schedule, *, init_from='', init_seed=0, gt=True, pgt=False,
        mvc_frames='none', l1=1.0, mvc=0.0, mm_3d=0.0, l2=0.0, report='column', order=0,
        mvc_form='normalised', mvc_unit='codec', mvc_routing='both', mvc_samples=8,
        pgt_from='pseudo_label',
        pgt_l1=True, pgt_noise_mm=0.0, pgt_view_noise=0.0, pgt_withheld=0.0, noise_seed=0,
        unlabeled_share=0.0, root_from='') -> ConfigDict:
  """A row of the run table (mvssl.train.runs): one trained model.

  label: name in the report; family: integral | algebraic | lifting | metrabs | metro |
  rootnet; schedule: a block of
  config.schedules; init_from: run it starts from ('' = fresh); init_seed: added to config.seed
  for a fresh network; gt / pgt: labeled frames with GT / unlabeled frames with P-GT;
  mvc_frames: none | all | unlabeled; l1, mvc, mm_3d, l2: loss weights (eq. 10; G's 3D term per
  mm; lifting: MSE of normalised outputs); report: column | below | none; order: position in the
  report and among independent runs.

  L_MVC (mvssl.losses): mvc_form normalised | literal (eq. 9 as printed: ordered pairs, L1 norm);
  mvc_unit codec (the L1 term's: depth bins) | mm; mvc_routing one of mvssl.losses.MVC_ROUTINGS
  (both | consensus | depth_only | root_relative | scale_anchored | median | reprojection |
  uncertainty; reprojection needs family integral, uncertainty integral (the heatmaps' spreads)
  or lifting (the spread over mvc_samples dropout samples of the network, drawn each step)).

  The unlabeled frames' targets (the reproduction study; integral or lifting family for the
  per-view ones):
  pgt_from pseudo_label (config.pseudo_label's P-GT) | pseudo_label_ungated (the same without
  the robust gate: plain DLT of every view whose score passes) | hidden_gt (the unlabeled split's
  own 3D labels: a diagnosis, never a method); pgt_l1: False = no L1 on them (MVC only, the root
  depth still from the targets); pgt_noise_mm: Gaussian sigma (mm, per world coordinate and
  joint) of noise added to the world pose, the same in every view; pgt_view_noise: sigma (the
  codec's units: heatmap cells / depth bins for integral, mm for lifting) of noise added to each
  view's targets independently; pgt_withheld:
  fraction of (view, joint) targets given no L1; noise_seed: fixes the noise and withheld targets
  per frame (not the model seed). unlabeled_share: fraction of the training draws that are
  unlabeled frames (0 = in proportion to the frame counts).

  root_from: integral runs only: a rootnet run; the run is evaluated twice, with the GT's root
  depth and with that run's predicted ones (reported as '<label> + <RootNet label>'; 3DMPPE's
  PoseNet + RootNet).
  """
  return ConfigDict(dict(
      label=label, family=family, schedule=schedule, init_from=init_from, init_seed=init_seed,
      data=ConfigDict(dict(gt=gt, pgt=pgt, mvc_frames=mvc_frames, pgt_from=pgt_from,
                           pgt_l1=pgt_l1, pgt_noise_mm=pgt_noise_mm,
                           pgt_view_noise=pgt_view_noise, pgt_withheld=pgt_withheld,
                           noise_seed=noise_seed, unlabeled_share=unlabeled_share)),
      weights=ConfigDict(dict(l1=l1, mvc=mvc, mm_3d=mm_3d, l2=l2)),
      mvc_loss=ConfigDict(dict(form=mvc_form, unit=mvc_unit, routing=mvc_routing,
                               samples=mvc_samples)),
      report=report, order=order, root_from=root_from))


def get_config(arg=None):
  del arg
  c = ConfigDict()
  # heading of the report
  c.title = 'mvssl embedded default (procedural poses, procedural 4-camera rig)'
  # paper | pose2sim (configs/pose2sim.py) | study (configs/study.py) | g_variants
  c.experiment = 'paper'
  # all | build | pseudo_label | evaluate | the name of one run of c.runs
  c.stage = 'all'
  c.seed = 0                 # model init and data order
  # JAX's persistent compilation cache (mvssl.compilation_cache): '' = $JAX_COMPILATION_CACHE_DIR
  # or ~/.cache/mvssl/jax; a folder; 'off'. A second run compiles nothing it compiled before.
  c.compilation_cache = ''
  # The held-out labeled validation split (mvssl.data.validation): this share of each labeled
  # subject's sequences (whole sequences, ranked by a hash with this seed) is kept out of the
  # labeled split; every choice (a weight, G's multiplier, a routing) is made on it, never on
  # the test split or the unlabeled split's hidden GT. 0 = no validation split.
  c.validation = ConfigDict(dict(share=0.2, seed=0))
  # () = one run with c.seed; (0, 1, 2) = one run per seed in WORKDIR/seed_S, then mean +- std
  # over seeds and paired bootstrap intervals (WORKDIR/seeds.md)
  c.seeds = ()
  c.parallel = 'shard_map'   # shard_map (jit of shard_map over a 1-D mesh) | pmap
  c.num_devices = 0          # devices of the data-parallel mesh; 0 = all
  c.log_every = 50           # steps between log lines (loss, steps/s, ETA)
  c.save_every = 500         # steps between Orbax checkpoints
  # Paired intervals of the report and of the seeds' aggregate: ((run a, run b[, metric]), ...)
  # by run name (an integral run at a RootNet's depths: 'run+rootnet_run'), metric mpjpe (default)
  # | pa_mpjpe | abs_mpjpe | mrpe; () = consecutive columns, MPJPE
  c.pairs = ()
  # Evaluation also on truncated crops of the test split (mvssl.data.truncate): modes () | some
  # of bottom (the window moved up: legs leave the crop) | side (moved left); fraction of the
  # crop side the window moves by
  c.truncation = ConfigDict(dict(modes=(), fraction=1.0 / 3.0))
  # Evaluation also on multi-person scenes of the test split (mvssl.data.crowd; rendered data
  # only): people per scene (0 = off, 2..5), each neighbour's root distance from the frame's
  # person (mm, uniform in the range), a scene every `every` test frames, the scenes' seed
  c.crowd = ConfigDict(dict(people=0, spacing_mm=(900.0, 1500.0), every=1, seed=0))

  c.data = rendered_data()   # labeled and test splits (and unlabeled, unless unlabeled_data)
  # Optional second dataset for the unlabeled split (e.g. configs/recording.py); None = data.
  c.unlabeled_data = ml_collections.config_dict.placeholder(ConfigDict)

  c.input = i = ConfigDict()
  i.num_threads = 4          # input pipeline threads (JPEG decode + augmentation)
  i.prefetch = 16            # examples read ahead
  i.augment = 'colour'       # none | colour | geometric (scale, rotation, flip + camera change)
  i.scale = (0.8, 1.2)       # geometric: zoom range
  i.rotation_deg = 30.0      # geometric: in-plane rotation range (+-)
  i.flip_prob = 0.5          # geometric: chance of a horizontal flip (L/R joints swapped)
  i.shift = 0.0              # geometric: content moved by up to +-shift of the crop side in x
                             # and y: truncation augmentation (MeTRAbs); 0 = off

  c.study = st = ConfigDict()   # the reproduction study (configs/study.py, mvssl.experiments.study)
  st.reference = 'l1_only'   # the run every variant is compared with (paired intervals)
  st.all_seeds = ('base_gt', 'l1_only', 'ours')   # rows trained at every seed of config.seeds
  st.sweep_seeds = 1         # the other rows (sweep points): at the first sweep_seeds seeds only
  st.promote = False         # then the best row of each group (on validation) at every seed too
  # the split that picks the variant: the held-out labeled sequences (config.validation); never
  # the test split, never the unlabeled split's hidden GT
  st.validation = 'validation'
  st.diagnosis = 'unlabeled'   # also scored, never chosen on: the unlabeled split's hidden GT
                               # ('' = not scored)
  st.candidates = ('ours',)  # rows the validation choice is made among (method variants)
  st.groups = ()             # ((heading, (run, ...)), ...): the tables of study.md
  st.pairs = ()              # ((run a, run b), ...): further paired intervals a - b
  st.shards = ''             # a folder of finished seeds' scores: read, else written (study.py)

  c.g_variants = gv = ConfigDict()   # the G-variants experiment (configs/g_variants.py)
  gv.variants = ()           # ((name, label, ((dotted config path, value), ...)), ...)
  gv.reference = 'current'   # the variant Ours of every other one is compared with
  gv.column = 'ours'         # the per-view run each variant's P-GT fine-tunes
  gv.shared = ('base',)      # runs no variant changes: trained once per seed, then copied

  c.pose2sim = ConfigDict()  # the pose2sim experiment (configs/pose2sim.py)
  # fraction of the recording's frames (the last ones) kept out of fine-tuning, reported apart
  c.pose2sim.holdout_fraction = 0.0
  c.pose2sim.results = 'pose2sim_results'   # the report's files: WORKDIR/<results>.{md,json,png}

  c.pseudo_label = p = ConfigDict()
  p.source = 'model'         # model (G) | detections (DLT of the dataset's 2D detections)
  p.run = 'multi'            # source model: the algebraic run of c.runs that makes the P-GT
  p.min_score = 0.3          # detections: DLT weight 0 below this confidence
  # Robust triangulation of the P-GT (mvssl.geometry.robust), for either source: per joint the
  # views that reproject within max_error_px (px of the original image) are kept, the others
  # rejected; a joint no set of >= min_views views explains is invalid and teaches nothing (its
  # L1 is masked; a frame whose root joint is invalid is left out).
  # Off here (none): G's per-view 2D at this CPU size (64 px crops, 16-cell heatmaps) is
  # several original-image px off, more than a gate made for real detections; configs of real
  # recordings (configs/recording.py, configs/pose2sim.py) turn it on.
  p.robust = ConfigDict(dict(
      method='none',         # pose2sim (exclude views, Pose2Sim's rule) | ransac | none (plain DLT)
      max_error_px=15.0,     # the gate (Pose2Sim's default on 1080p images)
      min_views=2,           # views a joint needs
      reduce='mean',         # mean over the kept views (Pose2Sim's) | max: every kept view
      temporal_mm=0.0,       # > 0: also invalid when this far from the joint's running median
      temporal_window=5))    # frames each side of the running median (temporal_mm > 0)

  c.model = m = ConfigDict()
  m.image_size = 64          # network input crop S (px); heatmaps are S/4 (paper: 384)
  m.resnet_depth = 18        # 18 | 34 | 50 | 101 | 152 (paper: 50)
  m.num_filters = 16         # trunk width (paper: 64)
  m.deconv_channels = 64     # deconvolution channels (paper: 256)
  m.depth_bins = 16          # D (paper: 96 for 384 px inputs)
  m.cube_mm = 2000.0         # depth extent of the heatmap volume around the root (mm)
  m.num_joints = 17          # Human3.6M-17
  # trunk padding of stride-2 3x3 convolutions and the max-pool: same (XLA's SAME, (0, 1)) |
  # torchvision ((1, 1), as PyTorch; needed by torchvision ImageNet weights)
  m.padding = 'same'
  m.dtype = 'float32'        # float32 | bfloat16: convolutions' compute dtype (mixed precision)
  m.init_from = ''           # '' (scratch) | torchvision:PATH (ImageNet .pth / .safetensors trunk)
  # The multi-view model G's variant (mvssl.models.g_heads; Iskakov et al. 2019 "LT", Ong et al.
  # joint-adaptive heatmaps); the README's G-variants table (configs/g_variants.py) measures each.
  m.g = mg = ConfigDict()
  mg.conf_head = 'mlp'       # mlp (pooled features, softplus) | conv (LT: conv blocks, sigmoid,
                             # normalised over views + 1e-5)
  mg.multiplier = 100.0      # heatmap x this before the 2D soft-argmax (LT: 100; mvssl's first
                             # G: 1; 100 chosen on the P-GT of the unlabeled split, README)
  mg.target = 'coordinates'  # 2D term: coordinates (L1 of the soft-argmax, cells) | gaussian
                             # (MSE to Gaussian heatmaps, Simple Baselines)
  mg.sigma = '2.0'           # gaussian: fixed sigma, or set1 | set2 (joint-adaptive, Ong et al.);
                             # in cells of a 64-row heatmap, scaled to ours
  mg.fixed_sigma = '2.0'     # gaussian + mixture: the fixed-sigma component
  mg.mixture = False         # gaussian: Gaussian Mixture Block (fixed + adaptive components)
  mg.loss_3d = 'l1'          # l1 (mm, invalid joints masked) | soft_mse (LT: soft-thresholded MSE
                             # on cm, threshold 400)
  mg.decode = 'soft_argmax'  # 2D decoding of predictions: soft_argmax | argmax (sub-pixel)
  m.lifting = ml = ConfigDict()   # the lifting network (Martinez et al. 2017; family lifting)
  ml.hidden = 1024           # width of the linear layers
  ml.num_blocks = 2          # residual blocks of two linear layers
  ml.dropout = 0.5           # dropout rate
  ml.max_norm = 1.0          # max L2 norm of each unit's incoming weights (0 = no constraint)
  ml.pose_norm = False       # centre and scale each 2D pose by its bounding square first
  ml.scale_head = False      # also a Laplace scale of the error per joint and camera axis,
                             # trained by its likelihood on held-fixed features; L_MVC's
                             # 'uncertainty' routing then takes it instead of dropout's spread
  # The absolute families (mvssl.models.absolute_nets): MeTRAbs / MeTRo (Sarandi et al. 2021) and
  # RootNet (Moon et al. 2019, 3DMPPE); their losses are in bins of box_mm / depth_bins mm.
  m.absolute = ma = ConfigDict()
  ma.box_mm = 2200.0         # metrabs / metro: side of the metric cube around the root (paper 2.2 m)
  ma.warmup = 0              # metrabs: updates of a fresh run before the absolute L1 term starts
                             # (paper: 5000); runs with init_from start past it
  ma.area_mm = 2000.0        # rootnet: side of the assumed real box, A_real = area_mm^2 (3DMPPE)

  c.optimizer = o = ConfigDict()
  o.name = 'adam'            # adam (the paper's) | adamw
  o.clip = 10.0              # global-norm gradient clipping (0 = none)
  o.weight_decay = 1e-4      # adamw only: decoupled weight decay
  o.final_lr_fraction = 0.02   # cosine decay ends at this fraction of the peak lr

  # Named schedules the runs refer to, sized so that `all` takes under 20 min on 2 CPU cores
  # (configs/h36m_motion.py and the study pin longer ones: 1500 / 1200 / 1200).
  c.schedules = ConfigDict(dict(
      pretrain_single=schedule(1500, 8, 2e-3),
      pretrain_multi=schedule(800, 8, 2e-3),
      finetune=schedule(500, 8, 1e-3)))

  # The table of runs (mvssl.train.runs). Base, L1-only and Ours share one schedule: the same
  # number of fine-tuning steps from the pre-trained model on GT only, GT + P-GT with L1, or with
  # L1 + lambda MVC (paper eq. 10). lambda = 0.03, the weight the reproduction study picks on its
  # validation split (README "Reproduction study"); the paper's 0.1 is
  # --config.runs.ours.weights.mvc=0.1.
  c.runs = ConfigDict(dict(
      base=run('Base (pre-training only)', 'integral', 'pretrain_single', report='below',
               order=0),
      base_gt=run('Base', 'integral', 'finetune', init_from='base', order=1),
      multi=run('G', 'algebraic', 'pretrain_multi', init_seed=1, mm_3d=0.01, report='below',
                order=2),
      l1_only=run('L1-only', 'integral', 'finetune', init_from='base', pgt=True,
                  mvc_frames='all', order=3),
      ours=run('Ours', 'integral', 'finetune', init_from='base', pgt=True, mvc_frames='all',
               mvc=0.03, order=4),
  ))
  return c


def paper_sized(c):
  """The paper's model and input (ResNet-50, 384 px crops, 96^3 volumes, geometric
  augmentation) with GPU-sized schedules, in place (configs/human36m.py, mpi_inf_3dhp.py)."""
  c.model.update(image_size=384, resnet_depth=50, num_filters=64, deconv_channels=256,
                 depth_bins=96, padding='torchvision')
  c.input.augment = 'geometric'
  c.log_every = 100
  c.save_every = 2000
  c.schedules.pretrain_single.update(steps=60000, batch_size=8, lr=1e-3, warmup=500)
  c.schedules.pretrain_multi.update(steps=40000, batch_size=8, lr=1e-3, warmup=500)
  c.schedules.finetune.update(steps=30000, batch_size=8, lr=5e-4, warmup=500)
  return c


def form_grid(c, forms, grid, make_row, order=5):
  """Every form of L_MVC at every weight of ``grid``, each form's weight chosen on the validation
  split (mvssl.experiments.study: group_choices, promote), in place (configs/lifting.py:b_grid,
  configs/study.py:forms_grid). forms: ((row name, routing, label), ...), the paper's form first
  (row 'ours', already in c.runs, routing None: every row's reference, at every seed with
  base_gt and l1_only);
  grid: ((lambda, tag), ...), the rows at tag '' keep the form's name (reused by name from a
  run of that form at that weight), the others are NAME_TAG; make_row(label, order, lambda,
  routing) -> a run."""
  c.experiment, groups, pairs = 'study', [], []
  for name, routing, label in forms:
    rows = tuple(f'{name}_{tag}' if tag else name for _, tag in grid)
    for row, (weight, _) in zip(rows, grid):
      if row == 'ours':
        c.runs.ours.update(label=f'{label}, lambda {weight:g}', order=order)
      else:
        c.runs[row] = make_row(f'{label}, lambda {weight:g}', order, weight, routing)
        pairs.append((row, 'ours'))
      order += 1
    groups.append((f'{label}: lambda {", ".join(f"{w:g}" for w, _ in grid)}', rows))
  s = c.study
  s.update(reference='l1_only', all_seeds=('base_gt', 'l1_only', 'ours'), sweep_seeds=1,
           promote=True, candidates=tuple(n for _, rows in groups for n in rows),
           groups=(('Baselines', ('base_gt', 'l1_only')),) + tuple(groups),
           pairs=(('l1_only', 'base_gt'),) + tuple(pairs))
