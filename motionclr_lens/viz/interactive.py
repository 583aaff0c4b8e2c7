"""Interactive figures with plotly: a 3D skeleton player, attention heatmaps and word curves that share one
frame cursor, and an explorer of a capture with a denoising-step slider and a layer selector.

Every function returns a `plotly.graph_objects.Figure`; it shows in JupyterLab and VS Code as it is, and
`fig.write_html(path, include_plotlyjs=True)` makes a page that needs no network. Motions are (T, 22, 3)
joints with y up; plotly's 3D scenes draw z up, so the figures plot (x, z, y).

In a notebook whose plotly renderer is plotly's own default (`"plotly_mimetype"`, which only JupyterLab, Notebook
7 and VS Code draw), importing this module adds plotly's `"notebook"` renderer beside it: each figure's output
then also carries HTML (plotly.js inline, once per notebook), so a notebook exported to HTML (nbconvert) or
opened where the plotly mimetype is unknown still shows it. A renderer the user chose is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..motion import KINEMATIC_CHAINS, check_joints

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..analysis.grounding import WordCurves
    from ..capture import AttentionCache

__all__ = ["attention_explorer", "capture_explorer", "skeleton_player", "word_curves_explorer"]

# The chain colours of the static figures: right leg, left leg, spine, right arm, left arm.
CHAIN_COLORS = ("#d62728", "#1f77b4", "#2b2b2b", "#ff7f0e", "#2ca02c")
WORD_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
CURSOR_COLOR = "#e4007c"


def _html_beside_the_mimetype() -> None:
    """In an IPython kernel on plotly's default renderer, add the HTML fallback (see the module's text)."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    import plotly.io as pio

    if pio.renderers.default == "plotly_mimetype":
        pio.renderers.default = "plotly_mimetype+notebook"


_html_beside_the_mimetype()


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _frame_indices(T: int, max_frames: int | None) -> list[int]:
    """The frames an animation steps through: all, or evenly spaced down to `max_frames`."""
    if max_frames is None or max_frames >= T:
        return list(range(T))
    if max_frames < 2:
        raise ValueError(f"max_frames must be at least 2, got {max_frames}")
    return sorted({int(round(f)) for f in np.linspace(0, T - 1, max_frames)})


def _chain_xyz(joints: np.ndarray, f: int, chain: Sequence[int]) -> dict[str, list[float]]:
    c = list(chain)
    p = joints[f, c]
    return {"x": p[:, 0].round(4).tolist(), "y": p[:, 2].round(4).tolist(), "z": p[:, 1].round(4).tolist()}


def _skeleton_traces(joints: np.ndarray, f: int, scene: str = "scene") -> list:
    go = _go()
    return [
        go.Scatter3d(
            **_chain_xyz(joints, f, chain),
            mode="lines+markers",
            line={"color": color, "width": 7},
            marker={"size": 2.5, "color": color},
            hoverinfo="skip",
            showlegend=False,
            scene=scene,
        )
        for chain, color in zip(KINEMATIC_CHAINS, CHAIN_COLORS, strict=True)
    ]


def _scene_layout(joints: np.ndarray, floor: bool) -> dict:
    """Fixed axes that hold the whole motion, equal scale on the three axes, a camera from the side."""
    lo, hi = joints.min((0, 1)), joints.max((0, 1))
    centre = (lo + hi) / 2
    half = max(float((hi - lo)[[0, 2]].max()) / 2 + 0.4, 1.0)
    top = max(float(hi[1]) + 0.2, 2.0)
    axis = {"showbackground": False, "showgrid": True, "gridcolor": "#e5e5e5", "zeroline": False, "title": ""}
    span = {"x": 2 * half, "y": 2 * half, "z": top + 0.05}
    m = max(span.values())
    return {
        "xaxis": {**axis, "range": [centre[0] - half, centre[0] + half], "showticklabels": False},
        "yaxis": {**axis, "range": [centre[2] - half, centre[2] + half], "showticklabels": False},
        "zaxis": {**axis, "range": [-0.05, top], "showticklabels": False, "showgrid": not floor},
        "aspectmode": "manual",
        "aspectratio": {k: v / m for k, v in span.items()},
        "camera": {"eye": {"x": 1.25, "y": -0.75, "z": 0.55}, "up": {"x": 0, "y": 0, "z": 1}},
    }


def _static_scene_traces(joints: np.ndarray, floor: bool, trajectory: bool, scene: str = "scene") -> list:
    go = _go()
    traces = []
    if floor:
        lo, hi = joints.min((0, 1)), joints.max((0, 1))
        half = max(float((hi - lo)[[0, 2]].max()) / 2 + 0.4, 1.0)
        c = (lo + hi) / 2
        xs = [c[0] - half, c[0] + half, c[0] + half, c[0] - half]
        ys = [c[2] - half, c[2] - half, c[2] + half, c[2] + half]
        traces.append(
            go.Mesh3d(
                x=xs,
                y=ys,
                z=[0, 0, 0, 0],
                i=[0, 0],
                j=[1, 2],
                k=[2, 3],
                color="#d9d4c7",
                opacity=0.55,
                hoverinfo="skip",
                showscale=False,
                scene=scene,
            )
        )
    if trajectory:
        root = joints[:, 0]
        traces.append(
            go.Scatter3d(
                x=root[:, 0].round(4),
                y=root[:, 2].round(4),
                z=np.zeros(len(root)),
                mode="lines",
                line={"color": "#777777", "width": 3, "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
                scene=scene,
            )
        )
    return traces


def _animation_controls(names: list[str], fps: float, stride: float, prefix: str = "frame ") -> tuple[list, list]:
    """Play/pause buttons and a frame slider driving the figure's frames named `names`."""
    duration = 1000.0 * stride / fps
    # redraw on every frame: plotly's fast path (redraw False) hides heatmaps beside an animated trace.
    play = {"frame": {"duration": duration, "redraw": True}, "fromcurrent": True, "mode": "immediate"}
    pause = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}
    menus = [
        {
            "type": "buttons",
            "showactive": False,
            "direction": "left",
            "x": 0.0,
            "y": 0.0,
            "xanchor": "left",
            "yanchor": "top",
            "pad": {"t": 40, "r": 10},
            "buttons": [
                {"label": "▶ play", "method": "animate", "args": [None, play]},
                {"label": "❚❚ pause", "method": "animate", "args": [[None], pause]},
            ],
        }
    ]
    sliders = [
        {
            "active": 0,
            "x": 0.16,
            "y": 0.0,
            "len": 0.84,
            "yanchor": "top",
            "pad": {"t": 30},
            "currentvalue": {"prefix": prefix, "font": {"size": 12}},
            "steps": [
                {
                    "label": n,
                    "method": "animate",
                    "args": [[n], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
                }
                for n in names
            ],
        }
    ]
    return menus, sliders


def skeleton_player(
    joints: np.ndarray,
    fps: float = 20.0,
    title: str | None = None,
    floor: bool = True,
    trajectory: bool = True,
    max_frames: int | None = 200,
    height: int = 520,
) -> go.Figure:
    """A 3D player of a (T, 22, 3) motion: play, pause, a frame slider, the floor and the root's path.

    Long motions step through at most `max_frames` evenly spaced frames (None: every frame).
    """
    go = _go()
    joints = check_joints(joints)
    frames = _frame_indices(len(joints), max_frames)
    static = _static_scene_traces(joints, floor, trajectory)
    first = _skeleton_traces(joints, frames[0])
    moving = list(range(len(static), len(static) + len(first)))
    fig = go.Figure(data=static + first)
    fig.frames = [go.Frame(name=str(f), data=_skeleton_traces(joints, f), traces=moving) for f in frames]
    stride = (frames[-1] - frames[0]) / max(1, len(frames) - 1) if len(frames) > 1 else 1.0
    menus, sliders = _animation_controls([str(f) for f in frames], fps, stride)
    fig.update_layout(
        scene=_scene_layout(joints, floor),
        updatemenus=menus,
        sliders=sliders,
        height=height,
        margin={"l": 0, "r": 0, "t": 40 if title else 10, "b": 60},
        title={"text": title or "", "x": 0.02, "font": {"size": 14}},
        showlegend=False,
    )
    return fig


def word_curves_explorer(curves: WordCurves, title: str | None = None, height: int = 320) -> go.Figure:
    """Per-word cross-attention curves over time, one line per word (hover shows word, frame, value)."""
    go = _go()
    fig = go.Figure()
    frames = np.arange(curves.curves.shape[1])
    for i, (word, curve) in enumerate(zip(curves.words, curves.curves, strict=True)):
        fig.add_trace(
            go.Scatter(
                x=frames,
                y=curve,
                mode="lines",
                name=word,
                line={"color": WORD_COLORS[i % len(WORD_COLORS)]},
                hovertemplate=f"{word}<br>frame %{{x}}<br>%{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=height,
        template="plotly_white",
        xaxis_title=f"frame ({curves.fps:g} fps)",
        yaxis_title="cross-attention",
        title={"text": title or "", "x": 0.02},
        margin={"l": 60, "r": 20, "t": 40 if title else 10, "b": 50},
    )
    return fig


def attention_explorer(
    joints: np.ndarray,
    curves: WordCurves | None = None,
    self_map: np.ndarray | None = None,
    fps: float = 20.0,
    title: str | None = None,
    max_frames: int | None = 120,
    height: int = 760,
) -> go.Figure:
    """The motion and its attention on one frame cursor: the 3D skeleton, the word x frame map, the per-word
    curves and the frame x frame self-attention map, with a vertical (and, on the self-attention map, a
    horizontal) cursor at the frame the skeleton shows. Play, pause and the slider move all views at once.

    `curves`: per-word cross-attention (`analysis.word_curves`); `self_map`: a (T, T) self-attention map at
    frame resolution (for example a layer's head mean, repeated up from its resolution).
    """
    go = _go()
    from plotly.subplots import make_subplots

    joints = check_joints(joints)
    T = len(joints)
    if curves is not None and curves.curves.shape[1] != T:
        raise ValueError(f"curves cover {curves.curves.shape[1]} frames but the motion has {T}")
    if self_map is not None:
        self_map = np.asarray(self_map, dtype=np.float64)
        if self_map.shape != (T, T):
            raise ValueError(f"self_map must have shape ({T}, {T}) (the motion's frames), got {self_map.shape}")
    frames = _frame_indices(T, max_frames)
    has_words = curves is not None and len(curves.words) > 0
    rows = [r for r, keep in (("words", has_words), ("curves", has_words), ("self", self_map is not None)) if keep]
    n = max(1, len(rows))
    specs: list[list[dict | None]] = [[{"type": "scene", "rowspan": n}, {"type": "xy"}]]
    specs += [[None, {"type": "xy"}] for _ in range(n - 1)]
    names = {"words": "word x frame (cross-attention)", "curves": "per-word curves", "self": "frame x frame (self)"}
    fig = make_subplots(
        rows=n,
        cols=2,
        specs=specs,
        column_widths=[0.42, 0.58],
        horizontal_spacing=0.06,
        vertical_spacing=0.09,
        subplot_titles=["motion"] + [names[r] for r in rows] if rows else ["motion"],
    )
    for trace in _static_scene_traces(joints, True, True):
        fig.add_trace(trace, row=1, col=1)
    first = frames[0]
    skeleton_start = len(fig.data)
    for trace in _skeleton_traces(joints, first):
        fig.add_trace(trace, row=1, col=1)
    moving = list(range(skeleton_start, len(fig.data)))
    cursors: list[tuple[int, str, tuple[float, float]]] = []  # (trace index, axis ("v" or "h"), extent)

    def cursor_xy(orientation: str, extent: tuple[float, float], f: int) -> tuple[list[float], list[float]]:
        lo, hi = extent
        return ([f, f], [lo, hi]) if orientation == "v" else ([lo, hi], [f, f])

    def add_cursor(row: int, orientation: str, extent: tuple[float, float]) -> None:
        x, y = cursor_xy(orientation, extent, first)
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines", line={"color": CURSOR_COLOR, "width": 2}, hoverinfo="skip", showlegend=False
            ),
            row=row,
            col=2,
        )
        cursors.append((len(fig.data) - 1, orientation, extent))

    axis_frames = np.arange(T, dtype=np.float32)  # typed arrays: plotly.js reads no 64-bit integers
    for r, kind in enumerate(rows, start=1):
        if kind == "words" and curves is not None:
            fig.add_trace(
                go.Heatmap(
                    z=curves.curves.round(5).tolist(),
                    x=axis_frames.tolist(),
                    y=list(range(len(curves.words))),
                    customdata=np.array([[w] * T for w in curves.words]),
                    colorscale="Viridis",
                    showscale=False,
                    hovertemplate="%{customdata}<br>frame %{x}<br>%{z:.3f}<extra></extra>",
                ),
                row=r,
                col=2,
            )
            fig.update_yaxes(
                autorange="reversed", tickvals=list(range(len(curves.words))), ticktext=list(curves.words), row=r, col=2
            )
            add_cursor(r, "v", (-0.5, len(curves.words) - 0.5))
        elif kind == "curves" and curves is not None:
            for i, (word, curve) in enumerate(zip(curves.words, curves.curves, strict=True)):
                fig.add_trace(
                    go.Scatter(
                        x=axis_frames,
                        y=curve.astype(np.float32),
                        mode="lines",
                        name=word,
                        line={"color": WORD_COLORS[i % len(WORD_COLORS)], "width": 2},
                        hovertemplate=f"{word}<br>frame %{{x}}<br>%{{y:.3f}}<extra></extra>",
                    ),
                    row=r,
                    col=2,
                )
            add_cursor(r, "v", (0.0, float(curves.curves.max()) * 1.05 if curves.curves.size else 1.0))
        elif kind == "self" and self_map is not None:
            fig.add_trace(
                go.Heatmap(
                    z=self_map.round(6).tolist(),
                    x=axis_frames.tolist(),
                    y=axis_frames.tolist(),
                    colorscale="Magma",
                    showscale=False,
                    hovertemplate="query frame %{y}<br>key frame %{x}<br>%{z:.4f}<extra></extra>",
                ),
                row=r,
                col=2,
            )
            fig.update_yaxes(autorange="reversed", scaleanchor=None, row=r, col=2)
            add_cursor(r, "v", (-0.5, T - 0.5))
            add_cursor(r, "h", (-0.5, T - 0.5))
        fig.update_xaxes(range=[-0.5, T - 0.5], row=r, col=2)
    fig.update_xaxes(title_text=f"frame ({fps:g} fps)", row=n, col=2)

    def frame_data(f: int) -> list:
        data = _skeleton_traces(joints, f, scene="scene")
        for _, orientation, extent in cursors:
            x, y = cursor_xy(orientation, extent, f)
            data.append(go.Scatter(x=x, y=y))
        return data

    traces = moving + [i for i, _, _ in cursors]
    fig.frames = [go.Frame(name=str(f), data=frame_data(f), traces=traces) for f in frames]
    stride = (frames[-1] - frames[0]) / max(1, len(frames) - 1) if len(frames) > 1 else 1.0
    menus, sliders = _animation_controls([str(f) for f in frames], fps, stride)
    fig.update_layout(
        scene=_scene_layout(joints, True),
        updatemenus=menus,
        sliders=sliders,
        height=height,
        template="plotly_white",
        title={"text": title or "", "x": 0.02, "font": {"size": 14}},
        legend={"x": 1.01, "y": 0.5, "yanchor": "middle", "font": {"size": 11}},
        margin={"l": 10, "r": 20, "t": 60, "b": 90},
    )
    return fig


def capture_explorer(
    cache: AttentionCache,
    kind: str = "self",
    prompt: int = 0,
    branch: str = "cond",
    words: Sequence[str] | None = None,
    token_columns: Sequence[Sequence[int]] | None = None,
    frames: int | None = None,
    title: str | None = None,
    height: int = 520,
    steps: Collection[int | None] | None = None,
) -> go.Figure:
    """A captured map (heads averaged) with a slider over the captured denoising steps (or those of `steps`)
    and a menu over the captured layers. Axes are in frames of the full resolution (a lower level's cells span
    several).

    Cross-attention shows words as rows when `words` and `token_columns` (each word's token indices, as
    `TokenizedPrompt.words[i].tokens`) are given, else the tokens the capture holds.
    """
    go = _go()
    if kind not in ("self", "cross"):
        raise ValueError(f"kind {kind!r}; valid: 'self', 'cross'")
    layers = cache.layers(kind)
    if not layers:
        raise ValueError(f"the capture holds no {kind}-attention; it holds kinds {sorted({k[0] for k in cache})}")
    if (words is None) != (token_columns is None):
        raise ValueError("give both words and token_columns, or neither")
    if words is not None and token_columns is not None and len(words) != len(token_columns):
        raise ValueError(f"{len(words)} words but {len(token_columns)} token column lists")
    plan = cache.plan
    full = plan.resolutions[0] if plan is not None else None

    def shown_steps(layer: int) -> list[int | None]:
        captured = cache.steps(kind, layer)
        chosen = [s for s in captured if steps is None or s in steps]
        if not chosen:
            raise ValueError(f"none of the steps {list(steps or [])} was captured at layer {layer}: {captured}")
        return chosen

    def image(layer: int, step: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | list[str]]:
        r = cache.row(kind, layer, prompt, branch)
        m = cache[kind, layer, step][r].float().mean(0).numpy()  # (Tq, Tk)
        scale = (full // m.shape[0]) if full else 1
        centres = (np.arange(m.shape[0]) + 0.5) * scale - 0.5
        if kind == "self":
            z = m
            limit = frames if frames is not None else len(centres) * scale
            keep = centres < limit
            return z[np.ix_(keep, keep)], centres[keep], centres[keep]
        if words is not None and token_columns is not None:
            z = np.stack([m[:, list(cols)].sum(1) for cols in token_columns])  # (W, Tq)
            ys: np.ndarray | list[str] = list(words)
        else:
            z = m.T
            ys = [f"token {i}" for i in range(m.shape[1])]
        limit = frames if frames is not None else len(centres) * scale
        keep = centres < limit
        return z[:, keep], centres[keep], ys

    def label(layer: int) -> str:
        if plan is None:
            return f"layer {layer}"
        return f"layer {layer} ({plan.resolutions[layer]} frames)"

    # One heatmap per (layer, step), shown one at a time: trace data travels as binary arrays, so a capture
    # of every layer and step stays a few megabytes; the slider and the menu only switch visibility.
    index: dict[tuple[int, int | None], int] = {}
    colorscale = "Magma" if kind == "self" else "Viridis"
    hover = ("query %{y}<br>key %{x}" if kind == "self" else "%{y}<br>frame %{x}") + "<br>%{z:.4f}<extra></extra>"
    fig = go.Figure()
    start = layers[0]
    for layer in layers:
        for s in shown_steps(layer):
            z, x, y = image(layer, s)
            index[(layer, s)] = len(fig.data)
            fig.add_trace(
                go.Heatmap(
                    z=z.astype(np.float32),
                    x=x.astype(np.float32),
                    y=y,
                    colorscale=colorscale,
                    colorbar={"thickness": 12},
                    hovertemplate=hover,
                    visible=layer == start and s == shown_steps(layer)[-1],
                )
            )

    def slider_for(layer: int) -> dict:
        chosen = shown_steps(layer)
        ids = [index[(layer, s)] for s in chosen]
        return {
            "active": len(chosen) - 1,
            "currentvalue": {"prefix": "denoising step "},
            "pad": {"t": 40},
            "steps": [
                {
                    "label": "mean" if s is None else str(s),
                    "method": "restyle",
                    "args": [{"visible": [j == k for j in range(len(ids))]}, ids],
                }
                for k, s in enumerate(chosen)
            ],
        }

    def heading(layer: int) -> str:
        return f"{title or kind + '-attention'}: {label(layer)}"

    buttons = []
    for layer in layers:
        shown = index[(layer, shown_steps(layer)[-1])]
        buttons.append(
            {
                "label": label(layer),
                "method": "update",
                "args": [
                    {"visible": [i == shown for i in range(len(fig.data))]},
                    {"sliders": [slider_for(layer)], "title.text": heading(layer)},
                ],
            }
        )
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.12}],
        sliders=[slider_for(start)],
        height=height,
        template="plotly_white",
        title={"text": heading(start), "x": 0.02, "font": {"size": 14}},
        xaxis_title="key frame" if kind == "self" else "frame",
        yaxis_title="query frame" if kind == "self" else "",
        margin={"l": 70, "r": 20, "t": 80, "b": 40},
    )
    # The axes span the motion's frames and no more (a square self-attention map shrinks its plot to stay square
    # rather than widening its range past the motion).
    limit = frames if frames is not None else (full or len(fig.data[0].x))
    span = [-0.5, limit - 0.5]
    fig.update_xaxes(range=span, constrain="domain")
    if kind == "self":
        fig.update_yaxes(range=span[::-1], scaleanchor="x", constrain="domain")
    else:
        fig.update_yaxes(autorange="reversed")
    return fig


def __getattr__(name: str) -> Any:
    if name == "word_curves_figure":  # the old name, which `viz.figures` now gives its matplotlib figure
        import warnings

        warnings.warn(
            "viz.interactive.word_curves_figure is now word_curves_explorer (viz.word_curves_figure is the "
            "matplotlib figure)",
            DeprecationWarning,
            stacklevel=2,
        )
        return word_curves_explorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
