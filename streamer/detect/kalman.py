"""The constant-velocity Kalman filter ByteTrack runs on each box, in (centre x, centre y, aspect, height) space.

The same model and noise weights as ultralytics' `KalmanFilterXYAH` (itself from the original ByteTrack/DeepSORT), in
plain numpy, so that a camera's worker tracks without importing torch and still gives ultralytics' tracks."""

from __future__ import annotations

import numpy as np

NDIM = 4
POSITION_WEIGHT = 1.0 / 20  # noise relative to the box height: a large box moves more pixels per frame
VELOCITY_WEIGHT = 1.0 / 160


class BoxKalman:
    """State: x, y, a, h and their velocities (8 values); one instance is shared, the tracks hold their own state."""

    def __init__(self) -> None:
        self.motion = np.eye(2 * NDIM)
        for i in range(NDIM):
            self.motion[i, NDIM + i] = 1.0  # one step per detected frame
        self.observation = np.eye(NDIM, 2 * NDIM)

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        measurement = np.asarray(xyah, dtype=np.float64)
        mean = np.r_[measurement, np.zeros_like(measurement)]
        h = measurement[3]
        std = [
            2 * POSITION_WEIGHT * h,
            2 * POSITION_WEIGHT * h,
            1e-2,
            2 * POSITION_WEIGHT * h,
            10 * VELOCITY_WEIGHT * h,
            10 * VELOCITY_WEIGHT * h,
            1e-5,
            10 * VELOCITY_WEIGHT * h,
        ]
        return mean, np.diag(np.square(std))

    def multi_predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step ahead for many tracks at once: `mean` (N, 8), `covariance` (N, 8, 8)."""
        h = mean[:, 3]
        std_pos = [POSITION_WEIGHT * h, POSITION_WEIGHT * h, 1e-2 * np.ones_like(h), POSITION_WEIGHT * h]
        std_vel = [VELOCITY_WEIGHT * h, VELOCITY_WEIGHT * h, 1e-5 * np.ones_like(h), VELOCITY_WEIGHT * h]
        squared = np.square(np.r_[std_pos, std_vel]).T
        motion_cov = np.zeros((squared.shape[0], 8, 8))
        motion_cov[:, range(8), range(8)] = squared
        mean = np.dot(mean, self.motion.T)
        left = np.dot(self.motion, covariance).transpose((1, 0, 2))
        return mean, np.dot(left, self.motion.T) + motion_cov

    def update(self, mean: np.ndarray, covariance: np.ndarray, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = mean[3]
        innovation_cov = np.diag(np.square([POSITION_WEIGHT * h, POSITION_WEIGHT * h, 1e-1, POSITION_WEIGHT * h]))
        projected_mean, projected_cov = mean[:4].copy(), covariance[:4, :4] + innovation_cov
        gain = np.linalg.solve(projected_cov, covariance[:, :4].T).T
        innovation = xyah - projected_mean
        new_mean = mean + np.dot(innovation, gain.T)
        new_cov = covariance - np.linalg.multi_dot((gain, projected_cov, gain.T))
        return new_mean, new_cov
