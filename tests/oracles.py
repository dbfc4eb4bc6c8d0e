"""Brute-force reference layers written straight from the notes' formulas, for tests only.

Deliberately slow and simple: one output number at a time, no shared code with the library.
"""

import numpy as np


def conv_oracle(x, w, b, stride, pad, dilation=1):
    """out[n, f, i, j] = sum over c, kh, kw of w[f, c, kh, kw] * x_pad[n, c, i*S + kh*d, j*S + kw*d] + b[f]."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=np.float64)
    x_pad[:, :, pad:pad + H, pad:pad + W] = x
    H_out = (H + 2 * pad - (HH - 1) * dilation - 1) // stride + 1
    W_out = (W + 2 * pad - (WW - 1) * dilation - 1) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    total = float(b[f])
                    for kh in range(HH):
                        for kw in range(WW):
                            total += float(np.dot(w[f, :, kh, kw],
                                                  x_pad[n, :, i * stride + kh * dilation,
                                                        j * stride + kw * dilation]))
                    out[n, f, i, j] = total
    return out


def pool_windows(x, pool_height, pool_width, stride):
    """Yield (i, j, window) with window = x[:, :, rows, cols] for each output position."""
    _, _, H, W = x.shape
    for i in range((H - pool_height) // stride + 1):
        for j in range((W - pool_width) // stride + 1):
            yield i, j, x[:, :, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width]
