// Reads proto3 JSON bodies as Go's protojson does and says where the
// realm ingress differs: `go run main.go DESCRIPTORS TABLE`, where TABLE is
// a JSON array of {"name", "body", "accepted", "proto3"} (the ingress's
// verdict and its proto3 reply). Run by tests/proto3_json.rs.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

type row struct {
	Name     string `json:"name"`
	Body     string `json:"body"`
	Accepted bool   `json:"accepted"`
	Proto3   string `json:"proto3"`
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	check(err)
	var set descriptorpb.FileDescriptorSet
	check(proto.Unmarshal(raw, &set))
	files, err := protodesc.NewFiles(&set)
	check(err)
	types := new(protoregistry.Types)
	var register func(ms protoreflect.MessageDescriptors)
	register = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			check(types.RegisterMessage(dynamicpb.NewMessageType(ms.Get(i))))
			register(ms.Get(i).Messages())
		}
	}
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		register(f.Messages())
		return true
	})
	d, err := files.FindDescriptorByName("kitchen.v1.Everything")
	check(err)
	text, err := os.ReadFile(os.Args[2])
	check(err)
	var rows []row
	check(json.Unmarshal(text, &rows))
	agree := 0
	for _, r := range rows {
		m := dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
		err := protojson.UnmarshalOptions{Resolver: types}.Unmarshal([]byte(r.Body), m)
		if (err == nil) != r.Accepted {
			fmt.Printf("DIFF %s: protojson accepts=%v (%v)\n", r.Name, err == nil, err)
			continue
		}
		agree++
		if err == nil {
			out, err := protojson.MarshalOptions{Resolver: types}.Marshal(m)
			check(err)
			if canonical(out) != canonical([]byte(r.Proto3)) {
				fmt.Printf("OUTPUT %s: protojson %s, realm %s\n", r.Name, canonical(out), r.Proto3)
			}
		}
	}
	fmt.Printf("%d/%d agree\n", agree, len(rows))
}

// canonical compares JSON texts as values (protojson varies its spacing).
func canonical(text []byte) string {
	var v interface{}
	check(json.Unmarshal(text, &v))
	out, err := json.Marshal(v)
	check(err)
	return string(out)
}

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
}
