"""CS231n's assignment notebooks' calls, as they write them, run unchanged on cs231n_lib.

Each test makes the calls of one cell of CS231n's ConvolutionalNetworks (and, for the
shared layers, FullyConnectedNets / BatchNormalization) notebooks with the arguments they
pass, integers included (``b = np.array([0, 128])``, ``gamma = np.asarray([3, 4, 5])``),
and checks the answer against our oracles instead of CS231n's printed numbers.
"""

import math

import pytest

from cs231n_lib.backend import np
from cs231n_lib.classifiers import ThreeLayerConvNet
from cs231n_lib.fast_layers import (conv_backward_fast, conv_forward_fast, max_pool_backward_fast,
                                    max_pool_forward_fast)
from cs231n_lib.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_lib.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from cs231n_lib.layers import (batchnorm_forward, conv_backward_naive, conv_forward_naive,
                               max_pool_forward_naive, spatial_batchnorm_backward,
                               spatial_batchnorm_forward)
from cs231n_lib.optim import adam
from cs231n_lib.solver import Solver
from cs231n_lib.vis_utils import visualize_grid

from .oracles import conv_oracle


def test_conv_forward_naive_on_linspace_inputs():
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {'stride': 2, 'pad': 1})
    assert rel_error(out, conv_oracle(x, w, b, 2, 1)) < 1e-8


@pytest.mark.parametrize("forward", [conv_forward_naive, conv_forward_fast])
def test_image_processing_cell_with_an_integer_bias(forward):
    """The "image processing via convolutions" cell: float images, float filters, b = np.array([0, 128])."""
    img_size = 8
    x = np.zeros((2, 3, img_size, img_size))
    x[0] = np.random.default_rng(0).integers(0, 256, (3, img_size, img_size))  # stands in for the puppy
    x[1] = np.random.default_rng(1).integers(0, 256, (3, img_size, img_size))  # and the kitten
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, :, :] = [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]  # grayscale: 0.3 R + 0.6 G + 0.1 B
    w[0, 1, :, :] = [[0, 0, 0], [0, 0.6, 0], [0, 0, 0]]
    w[0, 2, :, :] = [[0, 0, 0], [0, 0.1, 0], [0, 0, 0]]
    w[1, 2, :, :] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]  # horizontal edges in the blue channel
    b = np.array([0, 128])
    assert b.dtype.kind == "i"
    out, _ = forward(x, w, b, {'stride': 1, 'pad': 1})
    assert out.dtype == np.float64  # what x * w + b gives in NumPy
    assert rel_error(out, conv_oracle(x, w, b.astype(np.float64), 1, 1)) < 1e-10


def test_conv_naive_and_fast_agree_as_the_notebook_compares_them():
    np.random.seed(231)
    x = np.random.randn(10, 3, 31, 31)
    w = np.random.randn(25, 3, 3, 3)
    b = np.random.randn(25,)
    dout = np.random.randn(10, 25, 16, 16)
    conv_param = {'stride': 2, 'pad': 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    dx_naive, dw_naive, db_naive = conv_backward_naive(dout, cache_naive)
    dx_fast, dw_fast, db_fast = conv_backward_fast(dout, cache_fast)
    for naive, fast in ((out_naive, out_fast), (dx_naive, dx_fast), (dw_naive, dw_fast), (db_naive, db_fast)):
        assert rel_error(naive, fast) < 1e-9


def test_pooling_and_sandwich_cells():
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    pool_param = {'pool_width': 2, 'pool_height': 2, 'stride': 2}
    out, _ = max_pool_forward_naive(x, pool_param)
    assert rel_error(out, x.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))) < 1e-12
    np.random.seed(231)
    x = np.random.randn(20, 3, 32, 32)
    dout = np.random.randn(20, 3, 16, 16)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    assert max_pool_backward_fast(dout, cache_fast).shape == x.shape
    x = np.random.randn(2, 3, 16, 16)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3,)
    dout = np.random.randn(2, 3, 8, 8)
    out, cache = conv_relu_pool_forward(x, w, b, {'stride': 1, 'pad': 1}, pool_param)
    dx, dw, db = conv_relu_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda x: conv_relu_pool_forward(x, w, b, {'stride': 1, 'pad': 1}, pool_param)[0], x, dout)
    assert rel_error(dx_num, dx) < 1e-6


def test_spatial_batchnorm_cells_with_integer_gamma_and_beta():
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.ones(C), np.zeros(C)
    bn_param = {'mode': 'train'}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-7)
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])  # integers, as CS231n passes them
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == np.float64
    assert np.allclose(out.mean(axis=(0, 2, 3)), [6, 7, 8])
    assert np.allclose(out.std(axis=(0, 2, 3)), [3, 4, 5], rtol=1e-4)
    bn_param['mode'] = 'test'
    assert spatial_batchnorm_forward(x, gamma, beta, bn_param)[0].shape == x.shape
    # The backward cell, with the integer gamma kept: gradients as for float gamma.
    dout = np.random.randn(N, C, H, W)
    bn_param = {'mode': 'train'}
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda x: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0],
                                           x, dout)
    assert rel_error(dx_num, dx) < 1e-6
    assert rel_error(dbeta, dout.sum(axis=(0, 2, 3))) < 1e-12


def test_spatial_batchnorm_test_mode_cell_after_many_train_passes():
    """The BatchNormalization notebook's test-time cell: 50 train-mode passes move the running
    statistics to the data's, so a test-mode pass on new data of the same law is normalized."""
    np.random.seed(231)
    N, C, H, W = 10, 4, 11, 12
    bn_param = {'mode': 'train'}
    gamma, beta = np.ones(C), np.zeros(C)
    for t in range(50):
        x = 2.3 * np.random.randn(N, C, H, W) + 13
        spatial_batchnorm_forward(x, gamma, beta, bn_param)
    bn_param['mode'] = 'test'
    x = 2.3 * np.random.randn(N, C, H, W) + 13
    a_norm, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert np.all(np.abs(a_norm.mean(axis=(0, 2, 3))) < 0.1)
    assert np.all(np.abs(a_norm.std(axis=(0, 2, 3)) - 1) < 0.1)
    # and not the batch's own statistics: a shifted batch stays shifted in test mode
    shifted, _ = spatial_batchnorm_forward(x + 2.3, gamma, beta, bn_param)
    assert np.allclose(shifted.mean(axis=(0, 2, 3)), a_norm.mean(axis=(0, 2, 3)) + 1, atol=0.02)


def test_integer_gamma_is_cast_as_numpy_would_and_nonsense_is_refused():
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out, _ = batchnorm_forward(x, np.asarray([1, 2, 3], dtype=np.int8), np.zeros(3, np.float32), {'mode': 'train'})
    assert out.dtype == (x * np.asarray([1], dtype=np.int8)).dtype == np.float32
    out, _ = batchnorm_forward(x, np.asarray([1, 2, 3]), np.zeros(3, np.float32), {'mode': 'train'})
    assert out.dtype == (x * np.asarray([1])).dtype == np.float64
    with pytest.raises(TypeError, match="gamma must hold real numbers.*got dtype bool"):
        batchnorm_forward(x, np.ones(3, dtype=bool), np.zeros(3), {'mode': 'train'})
    with pytest.raises(TypeError, match="b must hold real numbers.*got dtype complex128"):
        conv_forward_naive(np.zeros((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), np.ones(1) + 1j, {'stride': 1, 'pad': 1})
    with pytest.raises(TypeError, match="x must have a floating dtype.*got int64"):  # data stays float
        conv_forward_naive(np.zeros((1, 1, 3, 3), dtype=np.int64), np.ones((1, 1, 3, 3)), np.ones(1),
                           {'stride': 1, 'pad': 1})


def test_three_layer_convnet_cells():
    model = ThreeLayerConvNet()
    N = 50
    X = np.random.randn(N, 3, 32, 32)
    y = np.random.randint(10, size=N)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(math.log(10), abs=0.02)
    model.reg = 0.5
    loss_reg, grads = model.loss(X, y)
    assert loss_reg > loss
    grid = visualize_grid(model.params['W1'].transpose(0, 2, 3, 1))
    assert grid.ndim == 3


def test_overfit_cell_solver_arguments(capsys):
    np.random.seed(231)
    num_train = 20
    rng = np.random.default_rng(231)
    small_data = {'X_train': rng.standard_normal((num_train, 3, 16, 16)),
                  'y_train': rng.integers(10, size=num_train),
                  'X_val': rng.standard_normal((10, 3, 16, 16)), 'y_val': rng.integers(10, size=10)}
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=4, hidden_dim=20, weight_scale=1e-2)
    solver = Solver(model, small_data, num_epochs=2, batch_size=10, update_rule='adam',
                    optim_config={'learning_rate': 1e-3,}, verbose=True, print_every=1)
    solver.train()
    assert "(Iteration 1 / 4) loss:" in capsys.readouterr().out
    assert 0.0 <= solver.check_accuracy(small_data['X_train'], small_data['y_train']) <= 1.0


def test_adam_cell_with_given_moments():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {'learning_rate': 1e-2, 'm': m, 'v': v, 't': 5}
    next_w, _ = adam(w, dw, config=config)
    m_new = 0.9 * m + 0.1 * dw
    v_new = 0.999 * v + 0.001 * dw ** 2
    expected = w - 1e-2 * (m_new / (1 - 0.9 ** 6)) / (np.sqrt(v_new / (1 - 0.999 ** 6)) + 1e-8)
    assert rel_error(next_w, expected) < 1e-7
    assert rel_error(config['m'], m_new) < 1e-12 and config['t'] == 6
