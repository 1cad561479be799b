// Every type, field, argument, input field and enum value a client sees carries a description: client
// authors read them in GraphiQL and in generated types. The test names each one that lacks it.
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  isUnionType,
} from "graphql";
import { describe, expect, it } from "vitest";
import { schema } from "../../src/schema/index.ts";

/** "Type", "Type.field", "Type.field(arg)", "Input.field", "Enum.VALUE" for each one without a description. */
function undescribed(): string[] {
  const missing: string[] = [];
  const has = (d: string | null | undefined) => typeof d === "string" && d.trim().length > 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    if (!has(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!has(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args)
          if (!has(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()))
        if (!has(field.description)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues())
        if (!has(value.description)) missing.push(`${type.name}.${value.name}`);
    } else if (isUnionType(type) && !has(type.description)) {
      // counted above with the other types
    }
  }
  return missing;
}

describe("schema descriptions", () => {
  it("describes every type, field, argument, input field and enum value", () => {
    expect(Object.keys(schema.getTypeMap()).length).toBeGreaterThan(60);
    expect(undescribed()).toEqual([]);
  });
});
