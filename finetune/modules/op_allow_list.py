"""The operations a module may run without being allowed by name: pure computation on tensors
and state that lives in memory (variables, lookup tables, random generators, tensor arrays).

An allow-list, so that an operation nobody reviewed (a new dataset op, a reader, a sampler with
a file argument, a custom kernel) is refused by default instead of passing because no list of
known-bad ops named it. COMPUTATION is TensorFlow 2.15's stateless ops, reviewed: ops that
build input pipelines (datasets, iterators, readers, queues), write summaries or debug output,
talk to other devices or machines (send/recv, collectives, TPU feeds), save or restore
checkpoints, share state across sessions (batching), abort the process, or take a file name
are not in it (tests/test_graph_scan.py checks each rule against TensorFlow's op registry).
IN_MEMORY_STATE and TEXT are reviewed one by one. ASSET_READS read files: they pass only when
the file is one of the module's own assets (modules/graph_scan.py follows the path).
"""

COMPUTATION = frozenset("""
    Abs AccumulateNV2 Acos Acosh Add AddN AddV2 AdjustContrast AdjustContrastv2 AdjustHue
    AdjustSaturation All Angle Any ApplyAdaMax ApplyAdadelta ApplyAdagrad ApplyAdagradDA
    ApplyAdagradV2 ApplyAdam ApplyAddSign ApplyCenteredRMSProp ApplyFtrl ApplyFtrlV2
    ApplyGradientDescent ApplyMomentum ApplyPowerSign ApplyProximalAdagrad
    ApplyProximalGradientDescent ApplyRMSProp ApproxTopK ApproximateEqual ArgMax ArgMin AsString
    Asin Asinh Assign AssignAdd AssignSub Atan Atan2 Atanh AudioSpectrogram AvgPool AvgPool3D
    AvgPool3DGrad AvgPoolGrad BandedTriangularSolve BatchCholesky BatchCholeskyGrad BatchFFT
    BatchFFT2D BatchFFT3D BatchIFFT BatchIFFT2D BatchIFFT3D BatchMatMul BatchMatMulV2
    BatchMatMulV3 BatchMatrixBandPart BatchMatrixDeterminant BatchMatrixDiag BatchMatrixDiagPart
    BatchMatrixInverse BatchMatrixSetDiag BatchMatrixSolve BatchMatrixSolveLs
    BatchMatrixTriangularSolve BatchNormWithGlobalNormalization
    BatchNormWithGlobalNormalizationGrad BatchSelfAdjointEig BatchSelfAdjointEigV2 BatchSvd
    BatchToSpace BatchToSpaceND BesselI0 BesselI0e BesselI1 BesselI1e BesselJ0 BesselJ1 BesselK0
    BesselK0e BesselK1 BesselK1e BesselY0 BesselY1 Betainc BiasAdd BiasAddGrad BiasAddV1 Bincount
    Bitcast BitwiseAnd BitwiseOr BitwiseXor BlockLSTM BlockLSTMGrad BlockLSTMGradV2 BlockLSTMV2
    BroadcastArgs BroadcastGradientArgs BroadcastTo Bucketize CSRSparseMatrixComponents
    CSRSparseMatrixToDense CSRSparseMatrixToSparseTensor CTCBeamSearchDecoder CTCGreedyDecoder
    CTCLoss CTCLossV2 Cast Ceil Cholesky CholeskyGrad ClipByValue CombinedNonMaxSuppression
    Complex ComplexAbs CompositeTensorVariantFromComponents CompositeTensorVariantToComponents
    CompressElement ComputeAccidentalHits ComputeBatchSize Concat ConcatOffset ConcatV2 Conj
    ConjugateTranspose Const ControlTrigger Conv Conv2D Conv2DBackpropFilter
    Conv2DBackpropFilterV2 Conv2DBackpropInput Conv2DBackpropInputV2 Conv3D Conv3DBackpropFilter
    Conv3DBackpropFilterV2 Conv3DBackpropInput Conv3DBackpropInputV2 Cos Cosh CountUpTo
    CropAndResize CropAndResizeGradBoxes CropAndResizeGradImage Cross CudnnRNNCanonicalToParams
    CudnnRNNCanonicalToParamsV2 CudnnRNNParamsSize CudnnRNNParamsToCanonical
    CudnnRNNParamsToCanonicalV2 Cumprod Cumsum CumulativeLogsumexp DataFormatDimMap
    DataFormatVecPermute Dawsn DecodeAndCropJpeg DecodeBase64 DecodeBmp DecodeCSV DecodeCompressed
    DecodeGif DecodeImage DecodeJSONExample DecodeJpeg DecodePaddedRaw DecodePng DecodeRaw
    DecodeWav DenseBincount DenseCountSparseOutput DenseToCSRSparseMatrix DenseToDenseSetOperation
    DenseToSparseSetOperation DepthToSpace DepthwiseConv2dNative
    DepthwiseConv2dNativeBackpropFilter DepthwiseConv2dNativeBackpropInput Dequantize
    DeserializeManySparse DeserializeSparse Diag DiagPart Digamma Dilation2D
    Dilation2DBackpropFilter Dilation2DBackpropInput Div DivNoNan DrawBoundingBoxes
    DrawBoundingBoxesV2 DynamicPartition DynamicStitch EditDistance Eig Einsum Elu EluGrad
    EmptyTensorList EmptyTensorMap EncodeBase64 EncodeJpeg EncodeJpegVariableQuality EncodePng
    EncodeWav EnsureShape Enter Equal Erf Erfc Erfinv EuclideanNorm Exit Exp ExpandDims Expint
    Expm1 ExtractGlimpse ExtractGlimpseV2 ExtractImagePatches ExtractJpegShape
    ExtractVolumePatches FFT FFT2D FFT3D FFTND Fact FakeParam FakeQuantWithMinMaxArgs
    FakeQuantWithMinMaxArgsGradient FakeQuantWithMinMaxVars FakeQuantWithMinMaxVarsGradient
    FakeQuantWithMinMaxVarsPerChannel FakeQuantWithMinMaxVarsPerChannelGradient Fill Fingerprint
    Floor FloorDiv FloorMod For FractionalAvgPool FractionalAvgPoolGrad FractionalMaxPool
    FractionalMaxPoolGrad FresnelCos FresnelSin FusedBatchNorm FusedBatchNormGrad
    FusedBatchNormGradV2 FusedBatchNormGradV3 FusedBatchNormV2 FusedBatchNormV3 FusedPadConv2D
    FusedResizeAndPadConv2D GRUBlockCell GRUBlockCellGrad Gather GatherNd GatherV2
    GenerateBoundingBoxProposals GetElementAtIndex GetOptions Greater GreaterEqual HSVToRGB
    HistogramFixedWidth IFFT IFFT2D IFFT3D IFFTND IRFFT IRFFT2D IRFFT3D IRFFTND Identity IdentityN
    Igamma IgammaGradA Igammac Imag ImageProjectiveTransformV2 ImageProjectiveTransformV3 InTopK
    InTopKV2 InitializeTable InplaceAdd InplaceSub InplaceUpdate Inv InvGrad Invert
    InvertPermutation IsFinite IsInf IsNan IsVariableInitialized IsotonicRegression
    KMC2ChainInitialization KmeansPlusPlusInitialization L2Loss LRN LRNGrad LSTMBlockCell
    LSTMBlockCellGrad LeakyRelu LeakyReluGrad LeftShift Less LessEqual Lgamma LinSpace ListDiff
    Log Log1p LogMatrixDeterminant LogSoftmax LogicalAnd LogicalNot LogicalOr LookupTableExport
    LookupTableFind LookupTableImport LookupTableInsert LookupTableSize LoopCond LowerBound Lu
    MapDefun MatMul MatrixBandPart MatrixDeterminant MatrixDiag MatrixDiagPart MatrixDiagPartV2
    MatrixDiagPartV3 MatrixDiagV2 MatrixDiagV3 MatrixExponential MatrixInverse MatrixLogarithm
    MatrixSetDiag MatrixSetDiagV2 MatrixSetDiagV3 MatrixSolve MatrixSolveLs MatrixSquareRoot
    MatrixTriangularSolve Max MaxPool MaxPool3D MaxPool3DGrad MaxPool3DGradGrad MaxPoolGrad
    MaxPoolGradGrad MaxPoolGradGradV2 MaxPoolGradGradWithArgmax MaxPoolGradV2
    MaxPoolGradWithArgmax MaxPoolV2 MaxPoolWithArgmax Maximum Mean Merge Mfcc Min Minimum
    MirrorPad MirrorPadGrad Mod Mul MulNoNan Ndtri NearestNeighbors Neg NextAfter NextIteration
    NoOp NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3 NonMaxSuppressionV4
    NonMaxSuppressionV5 NonMaxSuppressionWithOverlaps NotEqual NthElement OneHot OnesLike
    OptionalFromValue OptionalGetValue OptionalHasValue OptionalNone Pack Pad PadV2 ParallelConcat
    ParallelDynamicStitch ParseExample ParseExampleV2 ParseSequenceExample ParseSequenceExampleV2
    ParseSingleExample ParseSingleSequenceExample ParseTensor PartitionedCall Placeholder
    PlaceholderV2 PlaceholderWithDefault Polygamma PopulationCount Pow Prelinearize
    PrelinearizeTuple PreventGradient Prod Qr QuantizeAndDequantize QuantizeAndDequantizeV2
    QuantizeAndDequantizeV3 QuantizeAndDequantizeV4 QuantizeAndDequantizeV4Grad
    QuantizeDownAndShrinkRange QuantizeV2 QuantizedAdd QuantizedAvgPool
    QuantizedBatchNormWithGlobalNormalization QuantizedBiasAdd QuantizedConcat QuantizedConv2D
    QuantizedConv2DAndRelu QuantizedConv2DAndReluAndRequantize QuantizedConv2DAndRequantize
    QuantizedConv2DPerChannel QuantizedConv2DWithBias QuantizedConv2DWithBiasAndRelu
    QuantizedConv2DWithBiasAndReluAndRequantize QuantizedConv2DWithBiasAndRequantize
    QuantizedConv2DWithBiasSignedSumAndReluAndRequantize QuantizedConv2DWithBiasSumAndRelu
    QuantizedConv2DWithBiasSumAndReluAndRequantize QuantizedDepthwiseConv2D
    QuantizedDepthwiseConv2DWithBias QuantizedDepthwiseConv2DWithBiasAndRelu
    QuantizedDepthwiseConv2DWithBiasAndReluAndRequantize QuantizedInstanceNorm QuantizedMatMul
    QuantizedMatMulWithBias QuantizedMatMulWithBiasAndDequantize QuantizedMatMulWithBiasAndRelu
    QuantizedMatMulWithBiasAndReluAndRequantize QuantizedMatMulWithBiasAndRequantize
    QuantizedMaxPool QuantizedMul QuantizedRelu QuantizedRelu6 QuantizedReluX QuantizedReshape
    QuantizedResizeBilinear RFFT RFFT2D RFFT3D RFFTND RGBToHSV RaggedBincount
    RaggedCountSparseOutput RaggedCross RaggedFillEmptyRows RaggedFillEmptyRowsGrad RaggedGather
    RaggedRange RaggedTensorFromVariant RaggedTensorToSparse RaggedTensorToTensor
    RaggedTensorToVariant RaggedTensorToVariantGradient RandomGammaGrad RandomIndexShuffle Range
    Rank Real RealDiv Reciprocal ReciprocalGrad ReduceJoin RefEnter RefExit RefIdentity RefMerge
    RefNextIteration RefSelect RefSwitch RegexFullMatch RegexReplace Relu Relu6 Relu6Grad ReluGrad
    RequantizationRange RequantizationRangePerChannel Requantize RequantizePerChannel Reshape
    ResizeArea ResizeBicubic ResizeBicubicGrad ResizeBilinear ResizeBilinearGrad
    ResizeNearestNeighbor ResizeNearestNeighborGrad Reverse ReverseSequence ReverseV2 RightShift
    Rint Roll Round Rsqrt RsqrtGrad ScaleAndTranslate ScaleAndTranslateGrad ScatterAdd ScatterDiv
    ScatterMax ScatterMin ScatterMul ScatterNd ScatterNdAdd ScatterNdMax ScatterNdMin
    ScatterNdNonAliasingAdd ScatterNdSub ScatterNdUpdate ScatterSub ScatterUpdate SegmentMax
    SegmentMaxV2 SegmentMean SegmentMin SegmentMinV2 SegmentProd SegmentProdV2 SegmentSum
    SegmentSumV2 Select SelectV2 SelfAdjointEig SelfAdjointEigV2 Selu SeluGrad SerializeManySparse
    SerializeSparse SerializeTensor SetSize Shape ShapeN Sigmoid SigmoidGrad Sign Sin Sinh Size
    Slice Snapshot SobolSample Softmax SoftmaxCrossEntropyWithLogits Softplus SoftplusGrad
    Softsign SoftsignGrad SpaceToBatch SpaceToBatchND SpaceToDepth SparseAdd SparseAddGrad
    SparseApplyAdadelta SparseApplyAdagrad SparseApplyAdagradDA SparseApplyAdagradV2
    SparseApplyCenteredRMSProp SparseApplyFtrl SparseApplyFtrlV2 SparseApplyMomentum
    SparseApplyProximalAdagrad SparseApplyProximalGradientDescent SparseApplyRMSProp
    SparseBincount SparseConcat SparseCountSparseOutput SparseCross SparseCrossHashed
    SparseCrossV2 SparseDenseCwiseAdd SparseDenseCwiseDiv SparseDenseCwiseMul SparseFillEmptyRows
    SparseFillEmptyRowsGrad SparseMatMul SparseMatrixAdd SparseMatrixMatMul SparseMatrixMul
    SparseMatrixNNZ SparseMatrixOrderingAMD SparseMatrixSoftmax SparseMatrixSoftmaxGrad
    SparseMatrixSparseCholesky SparseMatrixSparseMatMul SparseMatrixTranspose SparseMatrixZeros
    SparseReduceMax SparseReduceMaxSparse SparseReduceSum SparseReduceSumSparse SparseReorder
    SparseReshape SparseSegmentMean SparseSegmentMeanGrad SparseSegmentMeanGradV2
    SparseSegmentMeanWithNumSegments SparseSegmentSqrtN SparseSegmentSqrtNGrad
    SparseSegmentSqrtNGradV2 SparseSegmentSqrtNWithNumSegments SparseSegmentSum
    SparseSegmentSumGrad SparseSegmentSumGradV2 SparseSegmentSumWithNumSegments SparseSlice
    SparseSliceGrad SparseSoftmax SparseSoftmaxCrossEntropyWithLogits SparseSparseMaximum
    SparseSparseMinimum SparseSplit SparseTensorDenseAdd SparseTensorDenseMatMul
    SparseTensorToCSRSparseMatrix SparseToDense SparseToSparseSetOperation Spence Split SplitV
    Sqrt SqrtGrad Square SquaredDifference Squeeze StackClose StackPop StackPush StatelessCase
    StatelessIf StatelessMultinomial StatelessParameterizedTruncatedNormal StatelessRandomBinomial
    StatelessRandomGammaV2 StatelessRandomGammaV3 StatelessRandomGetKeyCounter
    StatelessRandomGetKeyCounterAlg StatelessRandomNormal StatelessRandomNormalV2
    StatelessRandomPoisson StatelessRandomUniform StatelessRandomUniformFullInt
    StatelessRandomUniformFullIntV2 StatelessRandomUniformInt StatelessRandomUniformIntV2
    StatelessRandomUniformV2 StatelessSampleDistortedBoundingBox StatelessShuffle
    StatelessTruncatedNormal StatelessTruncatedNormalV2 StatelessWhile StaticRegexFullMatch
    StaticRegexReplace StopGradient StridedSlice StridedSliceAssign StridedSliceGrad StringFormat
    StringJoin StringLength StringLower StringNGrams StringSplit StringSplitV2 StringStrip
    StringToHashBucket StringToHashBucketFast StringToHashBucketStrong StringToNumber StringUpper
    Sub Substr Sum Svd Switch SymbolicGradient Tan Tanh TanhGrad TensorArrayClose
    TensorArrayCloseV2 TensorArrayConcat TensorArrayConcatV2 TensorArrayGather TensorArrayGatherV2
    TensorArrayPack TensorArrayRead TensorArrayReadV2 TensorArrayScatter TensorArrayScatterV2
    TensorArraySize TensorArraySizeV2 TensorArraySplit TensorArraySplitV2 TensorArrayUnpack
    TensorArrayWrite TensorArrayWriteV2 TensorListConcat TensorListConcatLists TensorListConcatV2
    TensorListElementShape TensorListFromTensor TensorListGather TensorListGetItem
    TensorListLength TensorListPopBack TensorListPushBack TensorListPushBackBatch
    TensorListReserve TensorListResize TensorListScatter TensorListScatterIntoExistingList
    TensorListScatterV2 TensorListSetItem TensorListSplit TensorListStack TensorMapErase
    TensorMapHasKey TensorMapInsert TensorMapLookup TensorMapSize TensorMapStackKeys
    TensorScatterAdd TensorScatterMax TensorScatterMin TensorScatterSub TensorScatterUpdate
    TensorStridedSliceUpdate Tile TileGrad ToBool TopK TopKV2 Transpose TridiagonalMatMul
    TridiagonalSolve TruncateDiv TruncateMod UncompressElement UnicodeDecode
    UnicodeDecodeWithOffsets UnicodeEncode UnicodeScript UnicodeTranscode UniformDequantize
    UniformQuantize UniformQuantizedAdd UniformQuantizedClipByValue UniformQuantizedConvolution
    UniformQuantizedConvolutionHybrid UniformQuantizedDot UniformQuantizedDotHybrid
    UniformRequantize Unique UniqueV2 UniqueWithCounts UniqueWithCountsV2 Unpack UnravelIndex
    UnsortedSegmentJoin UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentProd
    UnsortedSegmentSum UpperBound Where WindowOp Xdivy XlaConcatND XlaSplitND Xlog1py Xlogy
    ZerosLike Zeta
""".split())

IN_MEMORY_STATE = frozenset("""
    VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp
    VarIsInitializedOp VariableShape Variable VariableV2 DestroyResourceOp DisableCopyOnRead
    ResourceGather ResourceGatherNd ResourceScatterAdd ResourceScatterDiv ResourceScatterMax
    ResourceScatterMin ResourceScatterMul ResourceScatterNdAdd ResourceScatterNdMax
    ResourceScatterNdMin ResourceScatterNdSub ResourceScatterNdUpdate ResourceScatterSub
    ResourceScatterUpdate ResourceStridedSliceAssign ResourceCountUpTo
    ResourceApplyAdaMax ResourceApplyAdadelta ResourceApplyAdagrad ResourceApplyAdagradDA
    ResourceApplyAdagradV2 ResourceApplyAdam ResourceApplyAdamWithAmsgrad ResourceApplyAddSign
    ResourceApplyCenteredRMSProp ResourceApplyFtrl ResourceApplyFtrlV2
    ResourceApplyGradientDescent ResourceApplyKerasMomentum ResourceApplyMomentum
    ResourceApplyPowerSign ResourceApplyProximalAdagrad ResourceApplyProximalGradientDescent
    ResourceApplyRMSProp ResourceSparseApplyAdadelta ResourceSparseApplyAdagrad
    ResourceSparseApplyAdagradDA ResourceSparseApplyAdagradV2 ResourceSparseApplyCenteredRMSProp
    ResourceSparseApplyFtrl ResourceSparseApplyFtrlV2 ResourceSparseApplyKerasMomentum
    ResourceSparseApplyMomentum ResourceSparseApplyProximalAdagrad
    ResourceSparseApplyProximalGradientDescent ResourceSparseApplyRMSProp
    HashTable HashTableV2 AnonymousHashTable MutableHashTable MutableHashTableV2
    MutableHashTableOfTensors MutableHashTableOfTensorsV2 MutableDenseHashTable
    MutableDenseHashTableV2 AnonymousMutableHashTable AnonymousMutableHashTableOfTensors
    AnonymousMutableDenseHashTable LookupTableFindV2 LookupTableSizeV2 LookupTableInsertV2
    LookupTableExportV2 LookupTableImportV2 LookupTableRemoveV2 InitializeTableV2
    RandomUniform RandomUniformInt RandomStandardNormal TruncatedNormal
    ParameterizedTruncatedNormal RandomGamma RandomPoisson RandomPoissonV2 RandomShuffle
    RandomCrop Multinomial StatefulRandomBinomial StatefulStandardNormal
    StatefulStandardNormalV2 StatefulTruncatedNormal StatefulUniform StatefulUniformFullInt
    StatefulUniformInt RngReadAndSkip RngSkip StatelessRandomGetAlg NonDeterministicInts
    SampleDistortedBoundingBox SampleDistortedBoundingBoxV2 AllCandidateSampler
    LogUniformCandidateSampler UniformCandidateSampler LearnedUnigramCandidateSampler
    ThreadUnsafeUnigramCandidateSampler
    Assert CheckNumerics CheckNumericsV2 Print PrintV2 If While Case StatefulPartitionedCall
    MutexV2 MutexLock ConsumeMutexLock GuaranteeConst Empty DeepCopy
    TensorArray TensorArrayV2 TensorArrayV3 TensorArrayReadV3 TensorArrayWriteV3
    TensorArrayGatherV3 TensorArrayScatterV3 TensorArrayConcatV3 TensorArraySplitV3
    TensorArraySizeV3 TensorArrayCloseV3 TensorArrayGrad TensorArrayGradV2 TensorArrayGradV3
    TensorArrayGradWithShape Stack StackV2 StackPushV2 StackPopV2 StackCloseV2
    CudnnRNN CudnnRNNV2 CudnnRNNV3 CudnnRNNBackprop CudnnRNNBackpropV2 CudnnRNNBackpropV3
""".split())

# tensorflow-text's kernels (registered when it is imported): tokenizers and normalizers whose
# models are tensors or in-memory resources, never file names.
TEXT = frozenset("""
    CaseFoldUTF8 ConstrainedSequence FastBertNormalize FastWordpieceTokenizeWithOffsets
    FindSourceOffsets MaxSpanningTree NormalizeUTF8 NormalizeUTF8WithOffsetsMap PhraseTokenize
    RegexSplitWithOffsets RougeL SentenceFragments SentenceFragmentsV2 SentencepieceDetokenizeOp
    SentencepieceIdToStringOp SentencepieceOp SentencepieceStringToIdOp SentencepieceTokenizeOp
    SentencepieceTokenizeWithOffsetsOp SentencepieceVocabSizeOp SplitMergeTokenizeWithOffsets
    TFText>BoiseTagsToOffsets TFText>ByteSplitByOffsets TFText>ByteSplitWithOffsets
    TFText>FastSentencepieceDetokenize TFText>FastSentencepieceTokenize
    TFText>FastWordpieceDetokenize TFText>NgramsStringJoin TFText>OffsetsToBoiseTags
    TFText>PhraseDetokenize TFText>RoundRobinGenerateMasks TFText>RoundRobinTrim
    TFText>Utf8Binarize TFText>WhitespaceTokenizeWithOffsetsV2 TokenizerFromLogits
    UnicodeScriptTokenizeWithOffsets WhitespaceTokenizeWithOffsets WordpieceTokenizeWithOffsets
""".split())

# File reads a module needs for its own assets (a vocabulary table's file); anywhere else they
# are refused.
ASSET_READS = frozenset(
    {"ReadFile", "InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})

# Allowed ops with an argument that could name a file, whose value graph_scan reads: PrintV2
# passes when it prints to stderr or stdout, not to "file://...".
CHECKED_BY_VALUE = frozenset({"PrintV2"})

ALLOWED = COMPUTATION | IN_MEMORY_STATE | TEXT

# Argument names through which an op is handed a file or a place to write.
FILE_ARGUMENTS = frozenset({
    "filename", "filenames", "file_pattern", "vocab_file", "new_vocab_file", "old_vocab_file",
    "prefix", "path", "logdir", "db_uri", "output_stream", "memory_region_name", "ckpt_path"
})
NETWORK = ("DataService", "RemoteCall", "Send", "Recv", "Collective", "Nccl", "RegisterDataset",
           "Infeed", "Outfeed")


def reason(op):
  """Why an op outside the allow-list matters, as the end of "it ..."."""
  from tensorflow.python.framework import op_def_registry  # pylint: disable=g-import-not-at-top
  op_def = op_def_registry.get(op)
  if op_def is None:
    return "is not one of TensorFlow's own operations (a custom kernel)"
  arguments = [a.name for a in op_def.input_arg] + [a.name for a in op_def.attr]
  files = [a for a in arguments if a in FILE_ARGUMENTS]
  if op in ASSET_READS or files or "File" in op:
    return f"reads or writes files (its argument '{(files or ['filename'])[0]}')"
  if any(word in op for word in NETWORK):
    return "talks to other devices or machines"
  if "Summary" in op:
    return "writes summaries to a place of its choosing"
  if "PyFunc" in op:
    return "calls Python code (not in the module)"
  if "Dataset" in op or "Iterator" in op or "Reader" in op:
    return "builds an input pipeline (datasets and readers can read and write files)"
  return ("is not on finetune's allow-list of pure computation "
          "(finetune/modules/op_allow_list.py)")
