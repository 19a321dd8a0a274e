"""Layer names from the converter's tensor names: short, unique, safe in an MQTT topic."""

from edge_service.expose.names import layer_names


def test_the_keras_layer_is_taken_and_the_tracing_suffix_dropped():
    names = layer_names([
        ("mobilenetv2_0.35_96_1/block_1_expand_relu_1/Relu6;mobilenetv2_0.35_96_1/block_1_expand_1/convolution",
         "CONV_2D"),
        ("mobilenetv2_0.35_96_1/block_2_add_1/Add", "ADD"),
        ("model/dense/MatMul;model/dense/BiasAdd", "FULLY_CONNECTED"),
        ("StatefulPartitionedCall_1:0", "SOFTMAX"),
        ("Identity", "LOGISTIC"),
        ("", "MEAN"),
    ])
    assert names == ["block_1_expand_relu", "block_2_add", "dense", "softmax", "logistic", "mean"]


def test_repeats_are_numbered_and_unsafe_characters_replaced():
    names = layer_names([("a/b c+d#/x", "CONV_2D"), ("a/b c+d#/y", "CONV_2D"), ("softmax", "SOFTMAX"),
                         ("Identity_1", "SOFTMAX")])
    assert names == ["b_c_d", "b_c_d_2", "softmax", "softmax_2"]
    assert all("/" not in n and "+" not in n and "#" not in n for n in names)


def test_names_of_an_exposed_model_stay_as_they_are():
    first = layer_names([("m_1/conv_1/Relu", "CONV_2D"), ("StatefulPartitionedCall:0", "SOFTMAX")])
    assert layer_names([(n, "CONV_2D") for n in first]) == first
