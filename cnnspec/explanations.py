"""The longer explanation of every diagnostic code, for `cnnspec explain CODE` and SARIF rules:
what the code means, a small example that triggers it, and how to fix it."""

from __future__ import annotations

from typing import NamedTuple


class Explanation(NamedTuple):
    """The title of a code is its summary in cnnspec.diagnostics.CODES."""

    explanation: str
    example: str  # a small file (or command) that gets the diagnostic
    fix: str


def _net(*lines: str, input_shape: str = "3x32x32") -> str:
    """A net with the given statements after its input declaration."""
    body = "\n".join(f"    {line}" for line in lines)
    return f"net N {{\n    input {input_shape}\n{body}\n}}"


EXPLANATIONS = {
    "E100": Explanation(
        "The file does not follow the grammar of the .cnn language: a bracket is missing or unmatched, "
        "a statement is cut short, or a character has no meaning in the language. cnnspec reports the "
        "first syntax error in each definition and does not analyse a file with syntax errors.",
        _net("conv(64, k=3"),
        "Complete the construct the message names: close the bracket it points at, add the missing "
        "value after an operator, write tuples as (3, 3) and shapes as 3x224x224.",
    ),
    "E101": Explanation(
        "The file could not be opened (it does not exist, is a directory, or may not be read), or "
        "its bytes are not valid UTF-8 text; the message names the first bad byte and its line.",
        "cnnspec check model.cnn   # model.cnn saved as UTF-16, or not readable",
        "Check the path and permissions, and save the file as UTF-8.",
    ),
    "E102": Explanation(
        "Brackets are nested more than 100 levels deep, or blocks and modules call each other more "
        "than 64 levels deep. Deeper structures would exhaust the analyser's stack.",
        _net("conv(8, k=" + "(" * 101 + "3" + ")" * 101 + ")"),
        "Flatten the structure: use repetition (`block(...) * n`) or a for loop instead of nesting.",
    ),
    "E200": Explanation(
        "A chain names something that is neither a layer kind, nor a block or module defined in the "
        "file, nor a tensor named earlier. The message suggests the closest known name.",
        _net("conv(8, k=3) -> rleu"),
        "Fix the spelling, define the block, or name the tensor before using it (`x = conv(8, k=3)`). "
        "The README's layer table lists every layer spelling.",
    ),
    "E201": Explanation(
        "A layer or block call passes a keyword argument it does not take.",
        _net("conv(8, kernel_sz=3)"),
        "Use one of the argument names the message lists (for layers, also in the README's layer table).",
    ),
    "E202": Explanation(
        "An argument has the wrong type (a tuple where an int is needed, a string for a number) or an "
        "impossible value (a negative channel count, a tuple with the wrong number of axes).",
        _net("conv(-8, k=3)"),
        "Pass a value of the kind the message asks for: positive integers for sizes, one value per spatial axis in a tuple.",
    ),
    "E203": Explanation(
        "A call passes too many positional arguments, misses a required one, gives one twice, or puts "
        "a positional argument after a keyword argument; or several names are assigned from a chain "
        "that gives one tensor.",
        _net("linear()", input_shape="64"),
        "Give each required argument once, positional ones first.",
    ),
    "E204": Explanation(
        "An expression uses a name that is not a parameter of the enclosing net or block, nor a loop variable.",
        "block unit(c) {\n    conv(width, k=3)\n}\n\n" + _net("unit(8)"),
        "Use a parameter of the block (here `c`), or add the name as a parameter with a default.",
    ),
    "E205": Explanation(
        "Two definitions, two parameters of one definition, or two layers or submodules in one scope "
        "have the same name. In generated PyTorch code the second would silently replace the first.",
        _net("conv1: conv(8, k=3)", "conv1: conv(16, k=3)"),
        "Rename one of them. A parameter-free layer such as relu may be reused under one name.",
    ),
    "E206": Explanation(
        "A block or module calls itself, directly or through other blocks, so its expansion would never end.",
        "block loop(c) {\n    conv(c, k=3) -> loop(c)\n}\n\n" + _net("loop(8)"),
        "Repeat with `block(...) * n` or a for loop instead of recursion.",
    ),
    "E207": Explanation(
        "A name that becomes a Python attribute, class or argument name in generated code is not an "
        "ASCII identifier or is a Python keyword.",
        _net("class: conv(8, k=3)"),
        "Choose an ASCII identifier that is not a keyword, e.g. `classifier`.",
    ),
    "E208": Explanation(
        "A net does not declare the shape of its input, so no size can be computed.",
        "net N {\n    conv(8, k=3)\n}",
        "Start the net with its input shape, e.g. `input 3x224x224`, or pass --input.",
    ),
    "E209": Explanation(
        "The file defines no net, or several nets and --net does not choose one of them, or --net names a net the file does not define.",
        "block unit(c) {\n    conv(c, k=3)\n}",
        "Define a net (`net Name { input 3x32x32 ... }`), or choose one with --net NAME.",
    ),
    "E210": Explanation(
        "An expression cannot be evaluated: a division by zero, arithmetic on a string, a comparison "
        "of unlike values, a number too large for a 64-bit size, a function called with the wrong "
        "number or kind of arguments, an index out of range, or a math domain error (`sqrt(-1)`).",
        _net("conv(8 // 0, k=3)"),
        "Correct the expression; sizes are integers, and `/` gives an integer only when the division is exact.",
    ),
    "E211": Explanation(
        "A repetition or loop would expand the net beyond 1,000,000 layers; cnnspec stops instead of running out of memory.",
        _net("relu * 2000000"),
        "Check the repetition count; a real network has far fewer layers.",
    ),
    "E212": Explanation(
        "`input` appears after the first statement of a net, twice, or inside a block or module.",
        _net("conv(8, k=3)", "input 3x64x64"),
        "Declare the input once, as the first statement of the net.",
    ),
    "E213": Explanation(
        "A named tensor (or `in`) appears after `->`, or is labelled or repeated. A tensor name can only "
        "start a chain: the chain continues from that tensor.",
        _net("x = conv(8, k=3)", "relu -> x"),
        "Start the chain with the tensor (`x -> relu`), or use it as a merge operand (`add(x)`).",
    ),
    "E214": Explanation(
        "An `assert` in a block or net is false. The error points at the call that passed the offending "
        "arguments, and a note shows the assertion; at the top of a net it points at the assertion itself.",
        "block stage(stride) {\n    assert stride == 1 or stride == 2, 'stride must be 1 or 2'\n    conv(8, k=3, stride=stride)\n}\n\n"
        + _net("stage(3)"),
        "Pass arguments the block accepts, as the assertion's message says.",
    ),
    "E300": Explanation(
        "A convolution or pooling window does not fit the input: the computed output size is 0 or "
        "negative. The input is too small for the downsampling before it.",
        _net("conv(8, k=5) -> maxpool(2) * 4", input_shape="3x16x16"),
        "Pad the convolution, remove a downsampling step, or declare a larger input.",
    ),
    "E301": Explanation(
        "PyTorch rejects pooling whose padding exceeds half the (effective) kernel size: the padded "
        "border would contain windows with no input at all.",
        _net("maxpool(2, pad=2)"),
        "Use padding at most kernel // 2, e.g. maxpool(3, stride=2, pad=1).",
    ),
    "E302": Explanation(
        "A grouped convolution or group norm needs its input and output channels (or channels) to be multiples of the number of groups.",
        _net("conv(8, k=3, groups=2)", input_shape="3x32x32"),
        "Choose a group count that divides both channel counts.",
    ),
    "E303": Explanation(
        "add and mul combine tensors element by element; their shapes must be equal or broadcast as "
        "torch broadcasts (a C x 1 x 1 gate times a C x H x W tensor).",
        _net("add(in -> conv(16, k=3, pad=1))"),
        "Make the paths agree: a 1x1 convolution on the shortcut to match the channels, the same stride on both paths to match the sizes.",
    ),
    "E304": Explanation(
        "cat concatenates on the channel axis; every operand needs the same spatial size.",
        _net("cat(in -> maxpool(2))"),
        "Resize one operand (pooling, upsampling, padding) so the spatial sizes agree.",
    ),
    "E305": Explanation(
        "linear takes a vector per sample; here its input still has spatial axes.",
        _net("conv(8, k=3) -> linear(10)"),
        "Insert flatten (or global pooling and flatten) before the linear layer.",
    ),
    "E306": Explanation(
        "An explicitly-dimensioned layer (conv2d, maxpool1d, ...) gets an input with another number of spatial axes.",
        _net("conv1d(8, k=3)"),
        "Use the generic spelling (conv, maxpool) to follow the input, or the right explicit one.",
    ),
    "E307": Explanation(
        "The layer cannot take an input of this shape, although its rank is right: instance norm over a "
        "single spatial element, 3-D average pooling with a kernel larger than the unpadded input.",
        _net("gap -> instancenorm"),
        "Move the layer to where the input is large enough, or remove it; the message says what torch needs.",
    ),
    "E308": Explanation(
        "A layer with inplace=true writes its result into its input's memory, so every tensor sharing "
        "that memory (the input, and views of it such as flatten or chunk outputs) changes too. Here a "
        "later layer (named in the note), or the net's output, still reads the old values: the generated "
        "module would silently compute something else than the file says (here add(x, relu(x)) would "
        "become 2 x relu(x)).",
        _net("x = conv(8, k=3, pad=1)", "a = x -> relu(inplace=true)", "add(x, a)"),
        "Drop inplace=true, or apply the in-place layer to a fresh tensor nobody else reads (right after "
        "a convolution or batch norm whose output only it uses, as torchvision does).",
    ),
    "E309": Explanation(
        "The outputs of chunk and split are views into one tensor that autograd tracks together; torch "
        'refuses to modify one of them in place in a training forward pass ("Output 1 of Split is a '
        'view and is being modified inplace"), and without autograd the write also changes what the '
        "other layers reading that tensor see.",
        _net("conv(8, k=1)", "a, b = chunk(2)", "b2 = b -> relu(inplace=true)", "cat(a, b2)"),
        "Drop inplace=true on the layer after chunk or split (or put a layer that makes a new tensor, such as a convolution, in between).",
    ),
    "E310": Explanation(
        "Autograd keeps some layers' tensors for the backward pass (sigmoid, tanh, softmax, log-softmax "
        "and relu keep their output; mul and most layers with weights keep their inputs; see "
        "docs/compute-and-memory.md). An in-place layer that overwrites such a tensor makes the "
        'backward pass fail ("one of the variables needed for gradient computation has been modified '
        'by an inplace operation"): the forward pass works, training does not. The note names the '
        "layer that keeps the tensor.",
        _net("conv(8, k=3, pad=1) -> sigmoid -> relu(inplace=true)"),
        "Drop inplace=true. In-place activations are safe right after a convolution or batch norm, "
        "which keep their input rather than their output.",
    ),
    "E311": Explanation(
        "A max-pooling window (or an average-pooling one with count_include_pad=false) covers only "
        "padding, no input element: torch returns -inf (or divides by zero) there, and max pooling's "
        "backward writes through an index outside the input. This happens with ceil_mode, dilation "
        "and padding together; the message names the axis and the output position.",
        _net("maxpool(3, stride=3, pad=1, dilation=2, ceil_mode=true)", input_shape="6x1x6"),
        "Use ceil_mode=false, less padding or dilation, or an input size where every window reaches the input.",
    ),
    "W400": Explanation(
        "A strided convolution or pooling layer does not tile its input: the last rows or columns are "
        "never read. The note lists the nearest input sizes that lose nothing.",
        _net("conv(8, k=3, stride=2)", input_shape="3x32x32"),
        "Declare one of the suggested input sizes, or pad the layer (here pad=1).",
    ),
    "W401": Explanation(
        "A layer's output is neither used by a later layer nor the net's output: wasted computation, usually a forgotten merge.",
        _net("x = conv(8, k=3)", "in -> conv(4, k=3)"),
        "Use the tensor (e.g. in add or cat) or remove the layer.",
    ),
    "W402": Explanation(
        "Batch norm subtracts the mean of each channel, which cancels a convolution's bias; the bias parameters are wasted.",
        _net("conv(8, k=3) -> batchnorm"),
        "Write the convolution with bias=false.",
    ),
    "W403": Explanation(
        "The tensors merged by add, mul or cat see input windows that are not aligned (different "
        "effective stride or centre), so neighbouring outputs mix features from shifted places.",
        _net("add(in -> zeropad((1, 0, 1, 0)) -> conv(3, k=2))"),
        "Use symmetric padding (odd kernels with pad = k // 2) and the same stride on every path.",
    ),
    "W404": Explanation(
        "In a classifier, no unit of the last spatial layer sees the whole input image, so no feature "
        "can depend on the image as a whole before the classifier.",
        _net("conv(8, k=3) -> maxpool(2)", "flatten", "linear(10)"),
        "Add depth or downsampling, or use global pooling, or accept it: VGG16 and AlexNet have it too.",
    ),
    "W405": Explanation(
        "A `# cnnspec: ignore[CODE]` comment silences the warnings of that code on its line (or made "
        "by a block or module called on its line), and none is there: the warning was fixed, or the "
        "comment is on another line than the warning's place. A stale suppression would hide the next "
        "warning of that code on its line.",
        _net("conv(8, k=3, pad=1)  # cnnspec: ignore[W402]"),
        "Remove the comment, or move it to the line `cnnspec check` reports the warning on (or to the "
        "line of the call that made the layer). `--ignore W405` silences these reports for a run.",
    ),
    "W406": Explanation(
        "A `# cnnspec:` comment cannot be read as a suppression: the word after `cnnspec:` is not "
        "`ignore`, no code is named, a code is not one of cnnspec's, or it names an error, which "
        "cannot be silenced (a file with errors has no valid analysis).",
        _net("conv(8, k=3, pad=1)  # cnnspec: ignore[E300]"),
        "Write `# cnnspec: ignore[W402]` or `# cnnspec: ignore W402, W404` with warning codes "
        "(`cnnspec explain` lists them); fix errors instead of silencing them.",
    ),
    "E500": Explanation(
        "An `expect` statement of the net does not hold: the message shows the value expected and the "
        "value cnnspec computed. Expectations pin a network's budgets (parameters, MACs, memory, "
        "output shape, receptive field) so that CI fails when an edit changes them.",
        _net("conv(8, k=3)", "expect params <= 100"),
        "If the change to the network is intended, update the expectation to the new value; otherwise "
        "change the network back. `cnnspec check --format json` prints every total.",
    ),
    "E501": Explanation(
        "An `expect` statement is not one comparison, names a quantity cnnspec does not report, or "
        "compares values that cannot be compared (tuples of different lengths, strings with <).",
        _net("conv(8, k=3)", "expect parameters < 1M"),
        "Write one comparison per expect, naming params, trainable_params, buffers, neurons, macs, flops, "
        "other_ops, param_bytes, train_step_bytes, rf, output or input (or a net parameter).",
    ),
    "E502": Explanation(
        "`expect` states a contract on a whole net, so it may only appear in a net, not in a block or "
        "module (which may be used by many nets, or several times).",
        "block unit(c) {\n    conv(c, k=3)\n    expect params < 1000\n}\n\n" + _net("unit(8)"),
        "Move the expectation into the net that uses the block.",
    ),
}
