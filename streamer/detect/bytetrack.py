"""ByteTrack in numpy: ultralytics' association, step for step, without torch.

A camera's worker used to import ultralytics (and with it torch, ~300 MB a process and seconds of start-up) only to
run its `BYTETracker`. This is the same algorithm with the same thresholds, order of association, Kalman filter and
`lap` assignment, so it gives the same track ids on the same detections (tests/test_bytetrack.py replays recorded
detections through both). Only the parts streamer uses: axis-aligned boxes, no camera-motion compensation, no ReID.

Per frame: detections split at `track_high_thresh`; the high ones matched to the tracked and lost tracks by IoU
(fused with the score), the low ones to the tracked tracks left over (IoU only, 0.5), the rest of the high ones to
the tracks seen once (0.7); a high detection left over above `new_track_thresh` starts a track, confirmed when it
is matched again (or at once on the first frame); a track lost for more than `track_buffer` frames is removed.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass

import lap
import numpy as np

from streamer.detect.kalman import BoxKalman

SECOND_MATCH_IOU_COST = 0.5  # low-score detections only continue tracks that overlap them well
UNCONFIRMED_MATCH_COST = 0.7
DUPLICATE_COST = 0.15  # a tracked and a lost track this alike are one object: the younger goes
REMOVED_MEMORY = 1000


@dataclass(frozen=True)
class ByteTrackSettings:
    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 30  # in updates (detected frames), not seconds
    match_thresh: float = 0.8
    fuse_score: bool = True


class TrackState(enum.Enum):
    NEW = "new"
    TRACKED = "tracked"
    LOST = "lost"
    REMOVED = "removed"


class Track:
    """One object's box through time: its detection (tlwh, score, class, index in the frame's detections) until it
    is started, then its Kalman state."""

    def __init__(self, tlwh: np.ndarray, score: np.float32, cls: float, idx: int):
        self._tlwh = tlwh
        self.score, self.cls, self.idx = score, cls, idx
        self.mean: np.ndarray | None = None
        self.covariance: np.ndarray | None = None
        self.state = TrackState.NEW
        self.is_activated = False
        self.track_id = 0
        self.frame_id = self.start_frame = 0

    @property
    def tlwh(self) -> np.ndarray:
        if self.mean is None:
            return self._tlwh.copy()
        ret = self.mean[:4].copy()
        ret[2] *= ret[3]
        ret[:2] -= ret[2:] / 2
        return ret

    @property
    def xyxy(self) -> np.ndarray:
        ret = self.tlwh
        ret[2:] += ret[:2]
        return ret

    def start(self, kalman: BoxKalman, frame_id: int, track_id: int) -> None:
        self.track_id = track_id
        self.mean, self.covariance = kalman.initiate(to_xyah(self._tlwh))
        self.state = TrackState.TRACKED
        self.is_activated = frame_id == 1  # the first frame's tracks are confirmed at once, later ones when seen again
        self.frame_id = self.start_frame = frame_id

    def follow(self, kalman: BoxKalman, detection: Track, frame_id: int) -> None:
        """A matched detection: tracked again (a lost track found again keeps its id)."""
        self.mean, self.covariance = kalman.update(self.mean, self.covariance, to_xyah(detection.tlwh))
        self.state, self.is_activated, self.frame_id = TrackState.TRACKED, True, frame_id
        self.score, self.cls, self.idx = detection.score, detection.cls, detection.idx


def to_xyah(tlwh: np.ndarray) -> np.ndarray:
    ret = np.asarray(tlwh).copy()
    ret[:2] += ret[2:] / 2
    ret[2] /= ret[3]
    return ret


class ByteTracker:
    def __init__(self, settings: ByteTrackSettings):
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self.tracked: list[Track] = []
        self.lost: list[Track] = []
        self.removed: list[Track] = []
        self.frame_id = 0
        self.kalman = BoxKalman()
        self._ids = itertools.count(1)

    def has_tracks(self) -> bool:
        return bool(self.tracked or self.lost)

    def update(self, xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> list[tuple[int, int]]:
        """One detected frame (float32 arrays). Returns (detection index, track id) for each confirmed track that
        this frame's detections continue or start, in the tracker's order."""
        self.frame_id += 1
        high, low = self._detections(xyxy, scores, classes)
        unconfirmed = [t for t in self.tracked if not t.is_activated]
        pool = _joint([t for t in self.tracked if t.is_activated], self.lost)
        self._predict(pool)
        activated: list[Track] = []
        refound: list[Track] = []
        lost: list[Track] = []
        removed: list[Track] = []

        matches, left_tracks, left_high = _assign(self._cost(pool, high), self.settings.match_thresh)
        for t, d in matches:
            self._follow(pool[t], high[d], activated, refound)
        still_tracked = [pool[t] for t in left_tracks if pool[t].state is TrackState.TRACKED]
        matches, left_tracks, _ = _assign(1 - _iou(still_tracked, low), SECOND_MATCH_IOU_COST)
        for t, d in matches:
            self._follow(still_tracked[t], low[d], activated, refound)
        for t in left_tracks:
            still_tracked[t].state = TrackState.LOST
            lost.append(still_tracked[t])

        high = [high[d] for d in left_high]
        matches, left_unconfirmed, left_high = _assign(self._cost(unconfirmed, high), UNCONFIRMED_MATCH_COST)
        for t, d in matches:
            unconfirmed[t].follow(self.kalman, high[d], self.frame_id)
            activated.append(unconfirmed[t])
        for t in left_unconfirmed:
            unconfirmed[t].state = TrackState.REMOVED
            removed.append(unconfirmed[t])
        for d in left_high:
            if high[d].score >= self.settings.new_track_thresh:
                high[d].start(self.kalman, self.frame_id, next(self._ids))
                activated.append(high[d])
        for track in self.lost:
            if self.frame_id - track.frame_id > self.settings.track_buffer:
                track.state = TrackState.REMOVED
                removed.append(track)
        self._merge(activated, refound, lost, removed)
        return [(int(t.idx), t.track_id) for t in self.tracked if t.is_activated]

    def _detections(self, xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> tuple[list[Track], list[Track]]:
        # the same float32 arithmetic as ultralytics' Boxes.xywh and STrack, so ties and thresholds fall alike
        xywh = np.empty_like(xyxy)
        xywh[:, 0] = (xyxy[:, 0] + xyxy[:, 2]) / 2
        xywh[:, 1] = (xyxy[:, 1] + xyxy[:, 3]) / 2
        xywh[:, 2] = xyxy[:, 2] - xyxy[:, 0]
        xywh[:, 3] = xyxy[:, 3] - xyxy[:, 1]
        valid = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)  # a zero height would divide by zero in the filter
        high = valid & (scores >= self.settings.track_high_thresh)
        low = valid & (scores > self.settings.track_low_thresh) & (scores < self.settings.track_high_thresh)

        def tracks(mask: np.ndarray) -> list[Track]:
            centre = xywh[mask].astype(np.float64)
            tlwh = np.column_stack(
                [centre[:, 0] - centre[:, 2] / 2, centre[:, 1] - centre[:, 3] / 2, centre[:, 2], centre[:, 3]]
            ).astype(np.float32)
            return [
                Track(box, score, cls, idx)
                for box, score, cls, idx in zip(tlwh, scores[mask], classes[mask], np.flatnonzero(mask))
            ]

        return tracks(high), tracks(low)

    def _predict(self, tracks: list[Track]) -> None:
        if not tracks:
            return
        means = np.asarray([t.mean for t in tracks])
        covariances = np.asarray([t.covariance for t in tracks])
        for i, track in enumerate(tracks):
            if track.state is not TrackState.TRACKED:
                means[i][7] = 0  # a lost track's height stops changing
        means, covariances = self.kalman.multi_predict(means, covariances)
        for track, mean, covariance in zip(tracks, means, covariances):
            track.mean, track.covariance = mean, covariance

    def _cost(self, tracks: list[Track], detections: list[Track]) -> np.ndarray:
        cost = 1 - _iou(tracks, detections)
        if self.settings.fuse_score and cost.size:
            scores = np.array([d.score for d in detections])[None].repeat(cost.shape[0], axis=0)
            cost = 1 - (1 - cost) * scores
        return cost

    def _follow(self, track: Track, detection: Track, activated: list[Track], refound: list[Track]) -> None:
        was_tracked = track.state is TrackState.TRACKED
        track.follow(self.kalman, detection, self.frame_id)
        (activated if was_tracked else refound).append(track)

    def _merge(self, activated: list[Track], refound: list[Track], lost: list[Track], removed: list[Track]) -> None:
        self.tracked = [t for t in self.tracked if t.state is TrackState.TRACKED]
        self.tracked = _joint(_joint(self.tracked, activated), refound)
        self.lost = _without(self.lost, self.tracked) + lost
        self.lost = _without(self.lost, self.removed)
        self.tracked, self.lost = _drop_duplicates(self.tracked, self.lost)
        self.removed = (self.removed + removed)[-REMOVED_MEMORY:]


def _assign(cost: np.ndarray, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Minimum-cost matching (lap's Jonker-Volgenant, as ultralytics), no pair above `threshold`."""
    if cost.size == 0:
        return [], list(range(cost.shape[0])), list(range(cost.shape[1]))
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=threshold)
    return (
        [(i, int(j)) for i, j in enumerate(x) if j >= 0],
        [int(i) for i in np.where(x < 0)[0]],
        [int(j) for j in np.where(y < 0)[0]],
    )


def _iou(a: list[Track], b: list[Track]) -> np.ndarray:
    ious = np.zeros((len(a), len(b)), dtype=np.float32)
    if not a or not b:
        return ious
    box1 = np.ascontiguousarray([t.xyxy for t in a], dtype=np.float32)
    box2 = np.ascontiguousarray([t.xyxy for t in b], dtype=np.float32)
    inter = (np.minimum(box1[:, None, 2], box2[:, 2]) - np.maximum(box1[:, None, 0], box2[:, 0])).clip(0) * (
        np.minimum(box1[:, None, 3], box2[:, 3]) - np.maximum(box1[:, None, 1], box2[:, 1])
    ).clip(0)
    area1 = (box1[:, 2] - box1[:, 0]) * (box1[:, 3] - box1[:, 1])
    area2 = (box2[:, 2] - box2[:, 0]) * (box2[:, 3] - box2[:, 1])
    return inter / (area2 + area1[:, None] - inter + 1e-7)


def _joint(a: list[Track], b: list[Track]) -> list[Track]:
    ids = {t.track_id for t in a}
    return a + [t for t in b if t.track_id not in ids]


def _without(a: list[Track], b: list[Track]) -> list[Track]:
    ids = {t.track_id for t in b}
    return [t for t in a if t.track_id not in ids]


def _drop_duplicates(tracked: list[Track], lost: list[Track]) -> tuple[list[Track], list[Track]]:
    pairs = np.where(1 - _iou(tracked, lost) < DUPLICATE_COST)
    drop_tracked, drop_lost = set(), set()
    for p, q in zip(*pairs):
        if tracked[p].frame_id - tracked[p].start_frame > lost[q].frame_id - lost[q].start_frame:
            drop_lost.add(q)
        else:
            drop_tracked.add(p)
    return (
        [t for i, t in enumerate(tracked) if i not in drop_tracked],
        [t for i, t in enumerate(lost) if i not in drop_lost],
    )
