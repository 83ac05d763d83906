// A worker written the way the TypeScript original writes status (not a test module): the AWS SDK
// for JavaScript v3's document client, PutCommand of the seed's fields (no state, version or
// user_id), then UpdateCommands ending in `SET ok = :ok, ...` or `SET #error = :err, ...`.
//
// Environment: ENDPOINT, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY, TABLE, ASSEMBLY_ID, USER_ID, TEMPLATE_ID, PHASE ("start" or
// "finish"), OUTCOME ("completed" | "failed", for PHASE=finish), INDEXED=1 to add the top-level
// user_id the list route's index needs, OWNERLESS=1 to leave user.userId out.
"use strict";
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient, PutCommand, UpdateCommand } = require("@aws-sdk/lib-dynamodb");

const env = process.env;
const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    region: env.REGION,
    endpoint: env.ENDPOINT,
    credentials: { accessKeyId: env.ACCESS_KEY_ID, secretAccessKey: env.SECRET_ACCESS_KEY },
  }),
  { marshallOptions: { removeUndefinedValues: true } },
);
const TableName = env.TABLE;
const Key = { assembly_id: env.ASSEMBLY_ID };
const now = () => new Date().toISOString();
const STEPS = ["import", "encode", "thumbnail"];

async function start() {
  const created = now();
  const item = {
    assembly_id: env.ASSEMBLY_ID,
    message: "Upload received",
    uploads: [],
    results: {},
    bytes_expected: 2048,
    bytes_received: 0,
    bytes_usage: 0,
    execution_duration: 0,
    execution_start: created,
    template_id: env.TEMPLATE_ID,
    branch: "main",
    created_at: created,
    updated_at: created,
  };
  if (env.OWNERLESS !== "1") item.user = { userId: env.USER_ID };
  if (env.INDEXED === "1") item.user_id = env.USER_ID;
  await ddb.send(new PutCommand({ TableName, Item: item }));
  await ddb.send(new UpdateCommand({
    TableName, Key,
    UpdateExpression: "SET #msg = :msg, #updated = :updated, #uploads = :uploads, #bytes = :bytes, " +
      "#stepsTotal = :stepsTotal, #stepsCompleted = :stepsCompleted, #currentStepName = :currentStepName, " +
      "#progress = :progress",
    ExpressionAttributeNames: {
      "#msg": "message", "#updated": "updated_at", "#uploads": "uploads", "#bytes": "bytes_received",
      "#stepsTotal": "steps_total", "#stepsCompleted": "steps_completed", "#currentStepName": "current_step_name",
      "#progress": "progress_pct",
    },
    ExpressionAttributeValues: {
      ":msg": "Processing started", ":updated": now(),
      ":uploads": [{ id: "upload_1", name: "a.wav", basename: "a", ext: "wav", size: 2048, mime: "audio/wav",
                     field: "file", md5hash: "0".repeat(32) }],
      ":bytes": 2048, ":stepsTotal": STEPS.length, ":stepsCompleted": 0, ":currentStepName": "", ":progress": 0,
    },
  }));
  for (const [index, step] of STEPS.entries()) {
    await ddb.send(new UpdateCommand({
      TableName, Key,
      UpdateExpression: "SET #updated = :updated, #currentStepName = :name, #stepsCompleted = :done, #progress = :p",
      ExpressionAttributeNames: { "#updated": "updated_at", "#currentStepName": "current_step_name",
                                  "#stepsCompleted": "steps_completed", "#progress": "progress_pct" },
      ExpressionAttributeValues: { ":updated": now(), ":name": step, ":done": index,
                                   ":p": Math.floor((index / STEPS.length) * 100) },
    }));
    await ddb.send(new UpdateCommand({
      TableName, Key,
      UpdateExpression: "SET #updated = :updated, #stepsCompleted = :done, #progress = :p",
      ExpressionAttributeNames: { "#updated": "updated_at", "#stepsCompleted": "steps_completed",
                                  "#progress": "progress_pct" },
      ExpressionAttributeValues: { ":updated": now(), ":done": index + 1,
                                   ":p": Math.floor(((index + 1) / STEPS.length) * 100) },
    }));
  }
}

async function finish() {
  const done = now();
  if (env.OUTCOME === "completed") {
    await ddb.send(new UpdateCommand({
      TableName, Key,
      UpdateExpression: "SET ok = :ok, message = :msg, last_job_completed = :ljc, updated_at = :ua, " +
        "execution_duration = :dur, results = :results, progress_pct = :progress",
      ExpressionAttributeValues: {
        ":ok": "ASSEMBLY_COMPLETED", ":msg": "Processing completed", ":ljc": done, ":ua": done, ":dur": 1.25,
        ":results": { encode: [{ id: "result_1", name: "a.mp3", basename: "a", ext: "mp3", size: 512,
                                 mime: "audio/mpeg", field: "file", original_id: "upload_1",
                                 ssl_url: "https://cdn.example.com/a.mp3" }] },
        ":progress": 100,
      },
    }));
  } else {
    await ddb.send(new UpdateCommand({
      TableName, Key,
      UpdateExpression: "SET #error = :err, #message = :msg, #updated = :ua, #progress = :progress",
      ExpressionAttributeNames: { "#error": "error", "#message": "message", "#updated": "updated_at",
                                  "#progress": "progress_pct" },
      ExpressionAttributeValues: { ":err": "PROCESSING_ERROR", ":msg": "ffmpeg exited with code 1", ":ua": done,
                                   ":progress": 100 },
    }));
  }
}

(env.PHASE === "finish" ? finish() : start()).catch((err) => {
  process.stderr.write(`seed writer failed: ${err.name}: ${err.message}\n`);
  process.exit(1);
});
