// Reads schema files as FTL reads a published realm: protojson (and
// proto-text) of xyz.block.ftl.schema.v1.Schema, strictly (a field the
// message does not have is an error, as in FTL's internal/realm
// parseExternal), and checks that each holds exactly one internal realm.
//
//	go run main.go DESCRIPTORS FILE...
//
// DESCRIPTORS is a FileDescriptorSet holding FTL's schema. For every FILE
// it prints `ok FILE`, and writes FILE.go.json: the message as Go's
// protojson.Marshal writes it (what `ftl schema get --json` prints), for
// the caller to read back. Run by tests/ftl_wire.rs.
package main

import (
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func main() {
	raw, err := os.ReadFile(os.Args[1])
	check(err)
	var set descriptorpb.FileDescriptorSet
	check(proto.Unmarshal(raw, &set))
	files, err := protodesc.NewFiles(&set)
	check(err)
	d, err := files.FindDescriptorByName("xyz.block.ftl.schema.v1.Schema")
	check(err)
	desc := d.(protoreflect.MessageDescriptor)
	failed := false
	for _, path := range os.Args[2:] {
		if err := read(desc, path); err != nil {
			fmt.Printf("FAIL %s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("ok %s\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

func read(desc protoreflect.MessageDescriptor, path string) error {
	content, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m := dynamicpb.NewMessage(desc)
	if strings.HasSuffix(path, ".json") {
		err = protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(content, m)
	} else {
		err = prototext.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(content, m)
	}
	if err != nil {
		return err
	}
	realms := m.Get(desc.Fields().ByName("realms")).List()
	if realms.Len() != 1 {
		return fmt.Errorf("%d realms; a published realm is exactly one", realms.Len())
	}
	realm := realms.Get(0).Message()
	if realm.Get(realm.Descriptor().Fields().ByName("external")).Bool() {
		return fmt.Errorf("the realm is external; a published realm is internal")
	}
	out, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(path+".go.json", out, 0o644)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
