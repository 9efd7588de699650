//! A minimal ONNX *writer*: protobuf encoded by hand for the few messages the selftest models need
//! (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto), opset 17.
//! Field numbers are onnx.proto3's (onnx/onnx.proto).

/// `TensorProto.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    Float = 1,
    Float16 = 10,
}

/// Protobuf wire encoding, appended to a buffer.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn msg(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }
}

/// An attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: &'static str,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(&'static str, Attr)>,
}

/// An initializer: raw little-endian bytes of `elem` with `dims`.
#[derive(Clone, Debug)]
pub struct Initializer {
    pub name: String,
    pub elem: ElemType,
    pub dims: Vec<i64>,
    pub raw: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Io {
    pub name: String,
    pub elem: ElemType,
    pub dims: Vec<i64>,
}

#[derive(Clone, Debug)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub initializers: Vec<Initializer>,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
}

fn value_info(io: &Io) -> Msg {
    // TensorShapeProto { repeated Dimension dim = 1 }, Dimension { int64 dim_value = 1 }.
    let mut shape = Msg::default();
    for &d in &io.dims {
        let mut dim = Msg::default();
        dim.int(1, d);
        shape.msg(1, dim);
    }
    // TypeProto.Tensor { int32 elem_type = 1; TensorShapeProto shape = 2 }.
    let mut tensor = Msg::default();
    tensor.int(1, io.elem as i64);
    tensor.msg(2, shape);
    // TypeProto { Tensor tensor_type = 1 }.
    let mut ty = Msg::default();
    ty.msg(1, tensor);
    // ValueInfoProto { string name = 1; TypeProto type = 2 }.
    let mut vi = Msg::default();
    vi.str(1, &io.name);
    vi.msg(2, ty);
    vi
}

fn tensor(t: &Initializer) -> Msg {
    // TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9 }.
    let mut m = Msg::default();
    for &d in &t.dims {
        m.int(1, d);
    }
    m.int(2, t.elem as i64);
    m.str(8, &t.name);
    m.bytes(9, &t.raw);
    m
}

fn attribute(name: &str, a: &Attr) -> Msg {
    // AttributeProto { string name = 1; float f = 2; int64 i = 3; repeated int64 ints = 8;
    // AttributeType type = 20 } with FLOAT 1, INT 2, INTS 7.
    let mut m = Msg::default();
    m.str(1, name);
    match a {
        Attr::Float(f) => {
            m.float(2, *f);
            m.int(20, 1);
        }
        Attr::Int(i) => {
            m.int(3, *i);
            m.int(20, 2);
        }
        Attr::Ints(v) => {
            for &i in v {
                m.int(8, i);
            }
            m.int(20, 7);
        }
    }
    m
}

fn node(n: &Node) -> Msg {
    // NodeProto { repeated string input = 1; repeated string output = 2; string name = 3;
    // string op_type = 4; repeated AttributeProto attribute = 5 }.
    let mut m = Msg::default();
    for i in &n.inputs {
        m.str(1, i);
    }
    for o in &n.outputs {
        m.str(2, o);
    }
    m.str(3, &n.name);
    m.str(4, n.op);
    for (k, v) in &n.attrs {
        m.msg(5, attribute(k, v));
    }
    m
}

/// The serialized ModelProto (IR version 8, opset 17 of the default domain).
pub fn model_bytes(g: &Graph) -> Vec<u8> {
    // GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
    // repeated ValueInfoProto input = 11; output = 12 }.
    let mut graph = Msg::default();
    for n in &g.nodes {
        graph.msg(1, node(n));
    }
    graph.str(2, &g.name);
    for t in &g.initializers {
        graph.msg(5, tensor(t));
    }
    for i in &g.inputs {
        graph.msg(11, value_info(i));
    }
    for o in &g.outputs {
        graph.msg(12, value_info(o));
    }
    // OperatorSetIdProto { string domain = 1; int64 version = 2 }.
    let mut opset = Msg::default();
    opset.str(1, "");
    opset.int(2, 17);
    // ModelProto { int64 ir_version = 1; string producer_name = 2; string producer_version = 3;
    // GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8 }.
    let mut model = Msg::default();
    model.int(1, 8);
    model.str(2, "trt-dump selftest");
    model.str(3, env!("CARGO_PKG_VERSION"));
    model.msg(7, graph);
    model.msg(8, opset);
    model.0
}
